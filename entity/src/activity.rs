//! `activities`: the core events table (range-partitioned on `occurred_at`).
//!
//! `ip_address` (inet) is deliberately not mapped: it is written by the worker's COPY path and
//! read only by operators, never through the API.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "activities")]
pub struct Model {
    pub id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub occurred_at: DateTimeWithTimeZone,
    pub event_type: String,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub session_id: Option<String>,
    pub community_id: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub path: Option<String>,
    pub referrer: Option<String>,
    pub metadata: Json,
    pub user_agent: Option<String>,
    pub is_bot: bool,
    pub received_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
