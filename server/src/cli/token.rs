//! `sightline token`: API tokens for operators and scripts.

use std::time::Duration;

use anyhow::bail;
use sightline::auth::{JwtKeys, Role};
use uuid::Uuid;

#[derive(clap::Args)]
pub struct TokenArgs {
    /// admin | analyst | viewer | service
    #[arg(long, default_value = "admin")]
    role: String,
    /// Project ids the token may use; omit for all (admin only).
    #[arg(long = "project")]
    projects: Vec<Uuid>,
    /// Subject (who the token is for).
    #[arg(long, default_value = "operator")]
    sub: String,
    /// Lifetime in seconds (default: the configured token TTL).
    #[arg(long)]
    ttl: Option<u64>,
}

impl TokenArgs {
    pub fn run(self) -> anyhow::Result<()> {
        let settings = super::settings()?;
        let role: Role = self.role.parse().map_err(anyhow::Error::msg)?;
        if self.projects.is_empty() && role != Role::Admin {
            bail!("--project is required for role {}", role.as_str());
        }
        let keys = JwtKeys::from_settings(&settings.jwt).map_err(anyhow::Error::msg)?;
        let scope = if self.projects.is_empty() {
            None
        } else {
            Some(self.projects.as_slice())
        };
        let ttl = self.ttl.map(Duration::from_secs);
        println!("{}", keys.issue(&self.sub, role, scope, ttl)?);
        Ok(())
    }
}
