//! `sightline admin`: accounts of the dashboard and the API.

use clap::Subcommand;
use sightline::auth::{password, Role};
use sightline::domain::{AccountScope, Email};
use sightline::storage::{accounts, Db};
use uuid::Uuid;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Creates (or, with --update, resets) an account. The first admin is made this way.
    Create {
        #[arg(long)]
        email: String,
        /// Password; read from SIGHTLINE_ADMIN_PASSWORD when omitted.
        #[arg(long, env = "SIGHTLINE_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long, default_value = "admin")]
        role: String,
        #[arg(long = "project")]
        projects: Vec<Uuid>,
        /// Reset the password and role when the account exists.
        #[arg(long)]
        update: bool,
    },
}

impl AdminCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        let AdminCommand::Create {
            email,
            password,
            role,
            projects,
            update,
        } = self;
        let settings = super::settings()?;
        let role: Role = role.parse().map_err(anyhow::Error::msg)?;
        password::check_new(&password).map_err(anyhow::Error::msg)?;
        let email = Email::try_from(email.as_str())?;
        let scope = AccountScope::new(role, Some(projects))?;
        let db = Db::connect(&settings).await?;
        let hash = tokio::task::spawn_blocking(move || password::hash(&password))
            .await?
            .map_err(anyhow::Error::msg)?;
        let (account, created) = accounts::upsert(&db, &email, &hash, &scope, update).await?;
        if created || update {
            let action = if created {
                "account.create"
            } else {
                "account.reset_password"
            };
            let detail = serde_json::json!({"email": account.email, "role": account.role});
            let projects = account.project_ids.clone().unwrap_or_default();
            super::audit(&db, action, projects, Some(account.id.to_string()), detail).await?;
        }
        let verb = if created {
            "created"
        } else if update {
            "updated"
        } else {
            "kept existing"
        };
        println!("{verb} account {} ({})", account.email, account.role);
        Ok(())
    }
}
