//! `sightline project`: tenants and their keys.

use anyhow::Context;
use clap::Subcommand;
use sightline::domain::{Origin, ProjectName};
use sightline::storage::{projects, Db};

#[derive(Subcommand)]
pub enum ProjectCommand {
    /// Creates a project and prints its id and keys as KEY=VALUE lines (the secret only now).
    Create {
        #[arg(long)]
        name: String,
        /// Origins allowed to send beacons (repeat the flag).
        #[arg(long = "origin")]
        origins: Vec<String>,
        /// When a project of this name exists, rotate its keys and set its origins instead of
        /// creating another (used by scripts/up so re-runs reuse the data).
        #[arg(long)]
        reuse: bool,
    },
    /// Lists projects.
    List,
}

impl ProjectCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        let settings = super::settings()?;
        let db = Db::connect(&settings).await?;
        match self {
            ProjectCommand::Create {
                name,
                origins,
                reuse,
            } => create(&db, &name, origins, reuse).await,
            ProjectCommand::List => {
                for p in projects::list(&db, None).await? {
                    println!(
                        "{}\t{}\t{}\t{}",
                        p.id,
                        p.name,
                        p.public_key,
                        p.allowed_origins.join(",")
                    );
                }
                Ok(())
            }
        }
    }
}

async fn create(db: &Db, name: &str, origins: Vec<String>, reuse: bool) -> anyhow::Result<()> {
    let name = ProjectName::try_from(name)?;
    let origins = Origin::parse_all(&origins)?;
    let existing = if reuse {
        projects::by_name(db, name.as_str()).await?
    } else {
        None
    };
    let existing_id = existing.as_ref().map(|p| p.id);
    let (project, keys) = match existing {
        Some(p) => {
            let change = projects::ProjectUpdate {
                allowed_origins: Some(origins),
                ..Default::default()
            };
            projects::update(db, p.id, change).await?;
            projects::rotate_keys(db, p.id)
                .await?
                .context("project vanished")?
        }
        None => projects::create(db, &name, &origins).await?,
    };
    let action = if existing_id.is_some() {
        "project.rotate_keys"
    } else {
        "project.create"
    };
    let detail =
        serde_json::json!({"name": project.name, "allowedOrigins": project.allowed_origins});
    super::audit(db, action, vec![project.id], None, detail).await?;
    println!("SIGHTLINE_PROJECT_ID={}", project.id);
    println!("SIGHTLINE_PUBLIC_KEY={}", keys.public_key);
    println!("SIGHTLINE_SECRET_KEY={}", keys.secret_key);
    Ok(())
}
