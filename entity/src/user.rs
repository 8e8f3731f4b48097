//! `users`: tracked people, per project: one row per user id a project's events carry, upserted
//! by the worker's write statement (`storage::events`, never through the `ActiveModel`) and
//! deleted by a GDPR purge. Read through this entity for a user's profile
//! (`analytics::people::user`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The id the site or service uses (`user_id` in events).
    pub external_id: String,
    pub email: Option<String>,
    pub first_seen: DateTimeWithTimeZone,
    pub last_seen: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
