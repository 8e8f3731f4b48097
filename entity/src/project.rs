//! `projects`: the tenants.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "projects")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    /// Public write key: travels in every beacon, identifies the project, grants only ingest.
    #[sea_orm(unique)]
    pub public_key: String,
    /// SHA-256 (hex) of the secret key used by server-side tracking.
    #[sea_orm(unique)]
    pub secret_key_hash: String,
    /// Origins (`https://shop.example`) allowed to send beacons; empty allows none.
    pub allowed_origins: Vec<String>,
    /// Days raw events stay in Postgres before being archived.
    pub retention_days: i32,
    /// Days rollups are kept.
    pub rollup_retention_days: i32,
    pub created_at: DateTimeWithTimeZone,
    /// What of visitors' IP addresses is stored: `truncated` (IPv4 /24, IPv6 /48), `full` or
    /// `none` (`server::domain::IpStorage`).
    pub ip_storage: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
