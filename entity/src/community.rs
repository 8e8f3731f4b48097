//! `communities`: groups within a project, one row per community id its events carry, upserted
//! by the worker's write statement (`storage::events`, never through the `ActiveModel`). Read
//! through this entity for a community's profile (`analytics::people::community`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "communities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The id the site or service uses (`community_id` in events).
    pub external_id: String,
    pub name: Option<String>,
    pub created_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
