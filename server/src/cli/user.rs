//! `sightline user`: the people a site tracks (GDPR deletes).

use clap::Subcommand;
use sightline::domain::TrackedUserId;
use sightline::storage::{users, Db};
use uuid::Uuid;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Deletes a user (GDPR): their events in every partition, their profile, and their
    /// contributions to every rollup, in one transaction (the purgeUser mutation's work).
    Purge {
        #[arg(long)]
        project: Uuid,
        /// The site's user id (`user_id` of their events).
        #[arg(long)]
        user: String,
    },
}

impl UserCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        let UserCommand::Purge { project, user } = self;
        let user = TrackedUserId::try_from(user.as_str())?;
        let settings = super::settings()?;
        let db = Db::connect(&settings).await?;
        let purged = users::purge(&db, project, &user).await?;
        let target = sightline::storage::audit::purged_user_target(&user);
        let detail = serde_json::json!({"events": purged.events, "users": purged.users});
        super::audit(&db, "user.purge", vec![project], Some(target), detail).await?;
        println!(
            "purged user {}: {} events, {} profile rows",
            user.as_str(),
            purged.events,
            purged.users
        );
        Ok(())
    }
}
