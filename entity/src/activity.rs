//! `activities`: the core events table (range-partitioned on `occurred_at`), one row per stored
//! event. [`Model`] is *the* event row of the code base: the worker builds it from a validated
//! event and writes it (`storage::events`), archives export its columns, and the raw reads
//! (`analytics::people`) return it; the GraphQL `Event` type is converted from it.
//!
//! Rows are written in bulk by one hand-written statement per batch, never through the
//! `ActiveModel`; the entity serves reads and names the columns once.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "activities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_id: Uuid,
    /// The event's id as its producer sent it: the idempotency key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: Uuid,
    /// When the event happened (client clock): the partition key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub occurred_at: DateTimeWithTimeZone,
    pub event_type: String,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub session_id: Option<String>,
    pub community_id: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    /// The page's path (from its URL, without query; with a `#/route` fragment if any).
    pub path: Option<String>,
    pub referrer: Option<String>,
    /// The event's properties, plus `url` and `title` of page events.
    pub metadata: Json,
    /// The sender's address (an `inet`, read as text).
    #[sea_orm(column_type = "custom(\"inet\")", select_as = "text", save_as = "inet")]
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub is_bot: bool,
    /// When the server accepted the event.
    pub received_at: DateTimeWithTimeZone,
    /// The visit's audience attributes (source, channel, UTM tags, device, browser, OS, screen,
    /// language, country...; migration 0009). The worker fills in the event's own; the write
    /// statement stores its visit's.
    pub audience: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
