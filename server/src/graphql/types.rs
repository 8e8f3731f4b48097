//! GraphQL output types, converted from storage models (never derived on them: a column change
//! must not silently change the public API).

use async_graphql::{SimpleObject, ID};
use chrono::{DateTime, Utc};

use crate::auth::Principal;

#[derive(SimpleObject)]
pub struct Me {
    pub subject: String,
    pub role: String,
    /// `None` when the caller may use every project.
    pub projects: Option<Vec<ID>>,
}

impl From<&Principal> for Me {
    fn from(p: &Principal) -> Self {
        Self {
            subject: p.subject.clone(),
            role: p.role.as_str().to_string(),
            projects: p.projects.as_ref().map(|ids| ids.iter().map(|i| ID(i.to_string())).collect()),
        }
    }
}

#[derive(SimpleObject)]
pub struct Project {
    pub id: ID,
    pub name: String,
    pub public_key: String,
    pub allowed_origins: Vec<String>,
    pub retention_days: i32,
    pub rollup_retention_days: i32,
    pub created_at: DateTime<Utc>,
}

impl From<entity::project::Model> for Project {
    fn from(m: entity::project::Model) -> Self {
        Self {
            id: ID(m.id.to_string()),
            name: m.name,
            public_key: m.public_key,
            allowed_origins: m.allowed_origins,
            retention_days: m.retention_days,
            rollup_retention_days: m.rollup_retention_days,
            created_at: m.created_at.with_timezone(&Utc),
        }
    }
}
