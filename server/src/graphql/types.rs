//! GraphQL output types, converted from storage models (never derived on them: a column change
//! must not silently change the public API).

use async_graphql::{ComplexObject, Enum, InputObject, Json, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::error::ApiError;
use crate::analytics::{self, behaviour, counts, people};
use crate::auth::{Principal, Role};

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
            projects: p
                .projects
                .as_ref()
                .map(|ids| ids.iter().map(|i| ID(i.to_string())).collect()),
        }
    }
}

#[derive(SimpleObject)]
#[graphql(complex)]
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

#[ComplexObject]
impl Project {
    /// The tracker script tag for this project (`host`: the Sightline server's public URL).
    async fn snippet(&self, host: Option<String>) -> String {
        self.snippet_for(host.as_deref().unwrap_or(""))
    }
}

impl Project {
    /// The script tag a site adds (host defaults to the server's public URL).
    pub fn snippet_for(&self, host: &str) -> String {
        format!(
            "<script async src=\"{}/sightline.js\" data-key=\"{}\"></script>",
            host.trim_end_matches('/'),
            self.public_key
        )
    }
}

#[derive(SimpleObject)]
pub struct ProjectWithKeys {
    pub project: Project,
    pub public_key: String,
    /// Shown once: only its hash is stored.
    pub secret_key: String,
}

#[derive(SimpleObject)]
pub struct Login {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub role: String,
}

#[derive(SimpleObject)]
pub struct Account {
    pub id: ID,
    pub email: String,
    pub role: String,
    /// `None`: every project.
    pub project_ids: Option<Vec<ID>>,
    pub created_at: DateTime<Utc>,
}

impl From<entity::account::Model> for Account {
    fn from(m: entity::account::Model) -> Self {
        Self {
            id: ID(m.id.to_string()),
            email: m.email,
            role: m.role,
            project_ids: m
                .project_ids
                .map(|ids| ids.iter().map(|i| ID(i.to_string())).collect()),
            created_at: m.created_at.with_timezone(&Utc),
        }
    }
}

/// A time range: `to` is exclusive; buckets are cut in `timeZone` (IANA name, default UTC).
#[derive(InputObject, Clone)]
pub struct TimeRange {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub time_zone: Option<String>,
}

#[derive(InputObject, Clone, Default)]
pub struct EventFilter {
    pub event_type: Option<String>,
    pub path: Option<String>,
    pub community_id: Option<String>,
    pub user_id: Option<String>,
    /// Only events whose properties contain this object, e.g. `{"plan": "pro"}` (nested objects
    /// and arrays match by containment). Answered from raw events.
    pub props: Option<Json<serde_json::Value>>,
}

impl TryFrom<Option<EventFilter>> for analytics::Filter {
    type Error = ApiError;

    fn try_from(f: Option<EventFilter>) -> Result<Self, ApiError> {
        let f = f.unwrap_or_default();
        let clean = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let props = match &f.props {
            Some(Json(p)) => analytics::Filter::props_json(p)?,
            None => None,
        };
        Ok(Self {
            event_type: clean(f.event_type),
            path: clean(f.path),
            community_id: clean(f.community_id),
            user_id: clean(f.user_id),
            props,
        })
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum Interval {
    Minute,
    Hour,
    Day,
}

impl From<Interval> for analytics::Interval {
    fn from(i: Interval) -> Self {
        match i {
            Interval::Minute => Self::Minute,
            Interval::Hour => Self::Hour,
            Interval::Day => Self::Day,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum Metric {
    Events,
    PageViews,
    Clicks,
    UniqueUsers,
    Sessions,
}

impl From<Metric> for counts::Metric {
    fn from(m: Metric) -> Self {
        match m {
            Metric::Events => Self::Events,
            Metric::PageViews => Self::PageViews,
            Metric::Clicks => Self::Clicks,
            Metric::UniqueUsers => Self::UniqueUsers,
            Metric::Sessions => Self::Sessions,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum GroupBy {
    EventType,
    EntityType,
    Path,
    Element,
    Referrer,
}

impl From<GroupBy> for counts::GroupBy {
    fn from(g: GroupBy) -> Self {
        match g {
            GroupBy::EventType => Self::EventType,
            GroupBy::EntityType => Self::EntityType,
            GroupBy::Path => Self::Path,
            GroupBy::Element => Self::Element,
            GroupBy::Referrer => Self::Referrer,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum Period {
    Day,
    Week,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "Role")]
pub enum RoleName {
    Admin,
    Analyst,
    Viewer,
    Service,
}

impl From<RoleName> for Role {
    fn from(r: RoleName) -> Self {
        match r {
            RoleName::Admin => Role::Admin,
            RoleName::Analyst => Role::Analyst,
            RoleName::Viewer => Role::Viewer,
            RoleName::Service => Role::Service,
        }
    }
}

#[derive(SimpleObject)]
pub struct Overview {
    pub events: i64,
    pub unique_users: i64,
    /// False when `uniqueUsers` is a HyperLogLog estimate (standard error 1.6%).
    pub unique_users_exact: bool,
    pub sessions: i64,
    pub page_views: i64,
    /// Share of sessions with at most one page view (0..1).
    pub bounce_rate: f64,
    /// Average maximum scroll depth of page views that scrolled (0..100).
    pub avg_scroll_depth: f64,
}

impl From<counts::Overview> for Overview {
    fn from(o: counts::Overview) -> Self {
        Self {
            events: o.events,
            unique_users: o.unique_users,
            unique_users_exact: o.unique_users_exact,
            sessions: o.sessions,
            page_views: o.page_views,
            bounce_rate: o.bounce_rate,
            avg_scroll_depth: o.avg_scroll_depth,
        }
    }
}

#[derive(SimpleObject)]
pub struct Point {
    pub t: DateTime<Utc>,
    pub value: f64,
}

#[derive(SimpleObject)]
pub struct ActiveUsers {
    pub dau: i64,
    pub wau: i64,
    pub mau: i64,
}

#[derive(SimpleObject, Clone)]
pub struct KeyCount {
    pub key: String,
    pub count: i64,
}

impl KeyCount {
    pub fn list(rows: Vec<(String, i64)>) -> Vec<Self> {
        rows.into_iter()
            .map(|(key, count)| Self { key, count })
            .collect()
    }
}

#[derive(SimpleObject)]
pub struct ScrollDepth {
    pub path: String,
    pub views: i64,
    pub avg_depth: f64,
    pub reached25: i64,
    pub reached50: i64,
    pub reached75: i64,
    pub reached100: i64,
}

impl From<behaviour::ScrollDepth> for ScrollDepth {
    fn from(s: behaviour::ScrollDepth) -> Self {
        let [reached25, reached50, reached75, reached100] = s.reached;
        Self {
            path: s.path,
            views: s.views,
            avg_depth: s.avg_depth,
            reached25,
            reached50,
            reached75,
            reached100,
        }
    }
}

#[derive(InputObject, Clone)]
pub struct FunnelStepInput {
    pub event_type: String,
    pub path: Option<String>,
}

#[derive(SimpleObject)]
pub struct Funnel {
    pub steps: Vec<FunnelStep>,
}

#[derive(SimpleObject)]
pub struct FunnelStep {
    pub event_type: String,
    pub path: Option<String>,
    pub users: i64,
    /// Share of the first step's users who reached this step (0..1).
    pub conversion: f64,
}

#[derive(SimpleObject)]
pub struct Cohort {
    pub start: DateTime<Utc>,
    pub size: i64,
    /// `retained[k]`: cohort members active in period k (k = 0 is the cohort's own period).
    pub retained: Vec<i64>,
}

/// A stored event.
#[derive(SimpleObject, Clone)]
pub struct Event {
    pub id: ID,
    #[graphql(name = "type")]
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub session_id: Option<String>,
    pub community_id: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub path: Option<String>,
    pub referrer: Option<String>,
    pub props: Json<serde_json::Value>,
}

impl From<people::StoredEvent> for Event {
    fn from(e: people::StoredEvent) -> Self {
        Self {
            id: ID(e.event_id.to_string()),
            event_type: e.event_type,
            occurred_at: e.occurred_at,
            received_at: e.received_at,
            user_id: e.user_id,
            anonymous_id: e.anonymous_id,
            session_id: e.session_id,
            community_id: e.community_id,
            entity_type: e.entity_type,
            entity_id: e.entity_id,
            path: e.path,
            referrer: e.referrer,
            props: Json(e.metadata),
        }
    }
}

#[derive(SimpleObject)]
pub struct EventConnection {
    pub edges: Vec<EventEdge>,
    pub page_info: PageInfo,
}

#[derive(SimpleObject)]
pub struct EventEdge {
    pub cursor: String,
    pub node: Event,
}

#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

#[derive(SimpleObject)]
pub struct DeadLetter {
    pub id: ID,
    pub reason: String,
    pub failed_at: DateTime<Utc>,
    /// The job's data as stored in Redis (JSON text).
    pub data: String,
}

/// The ingest queue: whether workers are paused, and how many jobs are in each state.
#[derive(SimpleObject)]
pub struct QueueState {
    /// Workers take nothing while true (`pauseQueue`, `sightline queue pause`); ingest goes on.
    pub paused: bool,
    pub waiting: i64,
    pub active: i64,
    pub delayed: i64,
    /// The dead-letter queue.
    pub failed: i64,
    pub completed: i64,
}

#[derive(SimpleObject)]
pub struct TrackResult {
    pub accepted: i64,
    pub rejected: Vec<Rejection>,
}

#[derive(SimpleObject)]
pub struct Rejection {
    pub index: i64,
    pub reason: String,
}

#[derive(SimpleObject)]
pub struct PurgeResult {
    pub events: i64,
    pub users: i64,
}

/// Which events a live feed sends; every part given must match. The same filter selects the
/// same events as `EventFilter` does on stored ones.
#[derive(InputObject, Clone, Default)]
pub struct LiveFilter {
    /// Any of these event types.
    pub event_types: Option<Vec<String>>,
    /// Only events on this path, e.g. `/pricing`.
    pub path: Option<String>,
    pub user_id: Option<String>,
    /// Only events whose properties contain this object, e.g. `{"plan": "pro"}` (as
    /// `EventFilter.props`: nested objects and arrays match by containment).
    pub props: Option<Json<serde_json::Value>>,
}

impl TryFrom<Option<LiveFilter>> for crate::live::LiveMatch {
    type Error = ApiError;

    fn try_from(f: Option<LiveFilter>) -> Result<Self, ApiError> {
        let f = f.unwrap_or_default();
        let clean = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        // Checked as the stored-events filter checks it (an object, bounded), so a filter
        // either works on both or is refused by both.
        let props = match f.props {
            Some(Json(p)) => {
                analytics::Filter::props_json(&p)?;
                p.as_object().filter(|m| !m.is_empty()).cloned()
            }
            None => None,
        };
        Ok(Self {
            event_types: f.event_types.filter(|t| !t.is_empty()),
            path: clean(f.path),
            user_id: clean(f.user_id),
            props,
        })
    }
}

/// One event of the live feed. `lagged > 0`: this subscriber was too slow and that many events
/// were skipped before this one.
#[derive(SimpleObject, Clone)]
pub struct LiveEvent {
    pub event: Event,
    pub lagged: i64,
}

/// Events stored in the last second.
#[derive(SimpleObject, Clone)]
pub struct LiveStats {
    pub at: DateTime<Utc>,
    pub events: i64,
    pub by_type: Vec<KeyCount>,
}
