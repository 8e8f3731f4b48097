//! `goals`: what a project counts as a conversion (an event type, optionally a path pattern and
//! properties), evaluated over raw events when asked.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "goals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Unique within the project: the breakdown's key and the goal filter's value.
    pub name: String,
    pub event_type: String,
    /// As the analyst wrote it (`/docs/*`, `/blog/**`).
    pub path_pattern: Option<String>,
    /// The pattern's anchored regular expression (`server::domain::goal`), matched with `~`.
    pub path_regex: Option<String>,
    /// Properties a converting event contains (`metadata @> props`).
    pub props: Option<Json>,
    pub created_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
