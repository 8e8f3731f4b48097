//! GraphQL types. Output types are converted from storage models and analytics results (never
//! derived on them: a column change must not silently change the public API). Input types are
//! parsed into analytics' validated types here, at the edge, by `TryFrom` (each refusal an error
//! enum that [`ApiError`] turns into BAD_USER_INPUT); past this module, nothing is re-checked.

use async_graphql::{ComplexObject, Enum, InputObject, Json, SimpleObject, ID};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use entity::activity;

use super::error::ApiError;
use crate::analytics::behaviour::{self, FunnelError};
use crate::analytics::counts::{self, Series, SeriesError};
use crate::analytics::people::{Cursor, Page, PageError, PageSize};
use crate::analytics::{self, audience, FilterError, Props, Range, RangeError};
use crate::analytics::{compare, heatmap, journeys};
use crate::auth::{Principal, Role};
use crate::live::LiveMatch;

/// An input converted into the type it stands for; a refusal becomes BAD_USER_INPUT through
/// [`ApiError`] (never through async-graphql's conversion of any `Display` error, which would
/// carry no code).
pub fn parse<I, T>(input: I) -> Result<T, ApiError>
where
    T: TryFrom<I>,
    ApiError: From<T::Error>,
{
    T::try_from(input).map_err(ApiError::from)
}

#[derive(SimpleObject)]
pub struct Me {
    pub subject: String,
    pub role: String,
    /// `None` when the caller may use every project.
    pub projects: Option<Vec<ID>>,
    /// When the caller's token (or session) ends.
    pub expires_at: Option<DateTime<Utc>>,
}

/// How to sign in through the identity provider.
#[derive(SimpleObject)]
pub struct SingleSignOn {
    /// Where the browser goes to sign in (then comes back to `/#/sso` signed in, or to a page
    /// saying why not).
    pub login_url: String,
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
            expires_at: p.expires_at,
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
    /// What of visitors' IP addresses is stored (default TRUNCATED).
    pub ip_storage: IpStorage,
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
            ip_storage: m
                .ip_storage
                .parse::<crate::privacy::IpStorage>()
                .unwrap_or_default()
                .into(),
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
    /// The bearer token; null when it went into the session cookie (`login(cookie: true)`).
    pub token: Option<String>,
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
    /// Set while the account is disabled (no login, tokens refused).
    pub disabled_at: Option<DateTime<Utc>>,
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
            disabled_at: m.disabled_at.map(|t| t.with_timezone(&Utc)),
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

impl TryFrom<TimeRange> for Range {
    type Error = RangeError;

    fn try_from(r: TimeRange) -> Result<Self, RangeError> {
        Range::new(r.from, r.to, time_zone(r.time_zone.as_deref())?)
    }
}

/// An IANA time zone name; absent or blank is UTC.
pub fn time_zone(name: Option<&str>) -> Result<Tz, RangeError> {
    match name.map(str::trim) {
        None | Some("") => Ok(Tz::UTC),
        Some(n) => n
            .parse::<Tz>()
            .map_err(|_| RangeError::UnknownTimeZone(n.to_string())),
    }
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
    /// Bot traffic counted too (left out of every answer by default).
    #[graphql(default)]
    pub include_bots: bool,
    /// Dimension filters, all of which an event must pass.
    #[graphql(name = "where")]
    pub where_: Option<Vec<DimensionFilter>>,
}

/// A text argument as a filter value: trimmed, and blank meaning absent.
fn clean(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

impl TryFrom<Option<EventFilter>> for analytics::Filter {
    type Error = FilterError;

    fn try_from(f: Option<EventFilter>) -> Result<Self, FilterError> {
        let f = f.unwrap_or_default();
        Ok(Self {
            event_type: clean(f.event_type),
            path: clean(f.path),
            community_id: clean(f.community_id),
            user_id: clean(f.user_id),
            props: f.props.map(|Json(p)| Props::new(p)).transpose()?.flatten(),
            include_bots: f.include_bots,
            dims: f
                .where_
                .map(|list| {
                    let checked = list
                        .into_iter()
                        .map(audience::DimFilter::try_from)
                        .collect::<Result<Vec<_>, _>>()?;
                    audience::DimFilters::new(checked)
                })
                .transpose()?
                .flatten(),
        })
    }
}

/// What a breakdown groups by, or a dimension filter tests.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum Dimension {
    Page,
    /// The path of a visit's first page view (breakdowns only: rows are visits).
    EntryPage,
    /// The path of a visit's last page view (breakdowns only: rows are visits).
    ExitPage,
    Referrer,
    Source,
    Channel,
    UtmSource,
    UtmMedium,
    UtmCampaign,
    UtmTerm,
    UtmContent,
    Browser,
    BrowserVersion,
    Os,
    OsVersion,
    Device,
    Screen,
    Language,
    Country,
    Region,
    City,
    EventType,
    Property,
    /// The project's goals: one breakdown row per goal; as a filter, `values` are goal names
    /// and the events kept are those of the visitors who converted (IS) or did not (IS_NOT).
    Goal,
}

/// A dimension and, for `PROPERTY`, the property's name.
pub struct DimensionArgs {
    pub dimension: Dimension,
    pub property: Option<String>,
}

impl TryFrom<DimensionArgs> for audience::Dimension {
    type Error = audience::DimensionError;

    fn try_from(a: DimensionArgs) -> Result<Self, Self::Error> {
        use audience::Dimension as D;
        Ok(match a.dimension {
            Dimension::Page => D::Page,
            Dimension::EventType => D::EventType,
            Dimension::Property => D::property(a.property.as_deref())?,
            Dimension::EntryPage => D::EntryPage,
            Dimension::ExitPage => D::ExitPage,
            Dimension::Goal => D::Goal,
            Dimension::Referrer => D::Visit("referrer"),
            Dimension::Source => D::Visit("source"),
            Dimension::Channel => D::Visit("channel"),
            Dimension::UtmSource => D::Visit("utm_source"),
            Dimension::UtmMedium => D::Visit("utm_medium"),
            Dimension::UtmCampaign => D::Visit("utm_campaign"),
            Dimension::UtmTerm => D::Visit("utm_term"),
            Dimension::UtmContent => D::Visit("utm_content"),
            Dimension::Browser => D::Visit("browser"),
            Dimension::BrowserVersion => D::Visit("browser_version"),
            Dimension::Os => D::Visit("os"),
            Dimension::OsVersion => D::Visit("os_version"),
            Dimension::Device => D::Visit("device"),
            Dimension::Screen => D::Visit("screen"),
            Dimension::Language => D::Visit("language"),
            Dimension::Country => D::Visit("country"),
            Dimension::Region => D::Visit("region"),
            Dimension::City => D::Visit("city"),
        })
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum FilterOp {
    /// The dimension's value is one of `values`.
    Is,
    /// The dimension's value is none of `values` (events without it pass).
    IsNot,
    /// The dimension's value contains one of `values` (case-insensitive).
    Contains,
}

/// One filter on a dimension: events whose value for it passes `op` with `values`.
#[derive(InputObject, Clone)]
pub struct DimensionFilter {
    pub dimension: Dimension,
    /// The property's name, for `PROPERTY`.
    pub property: Option<String>,
    #[graphql(default_with = "FilterOp::Is")]
    pub op: FilterOp,
    pub values: Vec<String>,
}

impl TryFrom<DimensionFilter> for audience::DimFilter {
    type Error = audience::DimensionError;

    fn try_from(f: DimensionFilter) -> Result<Self, Self::Error> {
        let dim = audience::Dimension::try_from(DimensionArgs {
            dimension: f.dimension,
            property: f.property,
        })?;
        let op = match f.op {
            FilterOp::Is => audience::FilterOp::Is,
            FilterOp::IsNot => audience::FilterOp::IsNot,
            FilterOp::Contains => audience::FilterOp::Contains,
        };
        audience::DimFilter::new(dim, op, f.values)
    }
}

/// One key of a breakdown.
#[derive(SimpleObject)]
pub struct BreakdownRow {
    pub key: String,
    /// Unique visitors (HyperLogLog estimate above a few hundred: standard error 1.6%).
    pub visitors: i64,
    /// Visits (sessions), estimated like `visitors`.
    pub visits: i64,
    pub events: i64,
    pub page_views: i64,
    /// `visitors` over all visitors of the range under the same filter (0..1).
    pub share: f64,
    /// `GOAL` only (null otherwise): converting events.
    pub conversions: Option<i64>,
    /// `GOAL` only (null otherwise): converting visitors over all visitors of the range under
    /// the same filter (0..1).
    pub conversion_rate: Option<f64>,
    /// Dimensions of visits (pages, entry and exit pages, sources, channels, campaigns,
    /// devices, countries...; null otherwise): the share of the key's visits with at most one
    /// page view (0..1). A page's visits are those that viewed it.
    pub bounce_rate: Option<f64>,
    /// Dimensions of visits (null otherwise): the mean duration of the key's visits, in
    /// seconds (a visit's last event minus its first; 0 for a one-event visit).
    pub avg_visit_duration: Option<f64>,
    /// With `compare`: this key's figures over the comparison period (zeros when it had none
    /// there; null when unknown: the period has more than 1000 keys and this one is not among
    /// its first); null without `compare`.
    pub previous: Option<Box<BreakdownRow>>,
}

impl From<audience::BreakdownRow> for BreakdownRow {
    fn from(r: audience::BreakdownRow) -> Self {
        Self {
            key: r.key,
            visitors: r.visitors,
            visits: r.visits,
            events: r.events,
            page_views: r.page_views,
            share: r.share,
            conversions: r.conversions,
            conversion_rate: r.conversion_rate,
            bounce_rate: r.bounce_rate,
            avg_visit_duration: r.avg_visit_duration,
            previous: None,
        }
    }
}

/// What a project counts as a conversion: events of `eventType`, on a page matching
/// `pathPattern` when given (`*` one path segment, `**` any depth), whose properties contain
/// `props` when given.
#[derive(SimpleObject)]
pub struct Goal {
    pub id: ID,
    pub project_id: ID,
    /// Unique within the project: the `GOAL` breakdown's key and the `GOAL` filter's value.
    pub name: String,
    pub event_type: String,
    pub path_pattern: Option<String>,
    pub props: Option<Json<serde_json::Value>>,
    pub created_at: DateTime<Utc>,
}

impl From<entity::goal::Model> for Goal {
    fn from(m: entity::goal::Model) -> Self {
        Self {
            id: ID(m.id.to_string()),
            project_id: ID(m.project_id.to_string()),
            name: m.name,
            event_type: m.event_type,
            path_pattern: m.path_pattern,
            props: m.props.map(Json),
            created_at: m.created_at.with_timezone(&Utc),
        }
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

impl From<Period> for behaviour::Period {
    fn from(p: Period) -> Self {
        match p {
            Period::Day => Self::Day,
            Period::Week => Self::Week,
        }
    }
}

/// The `timeseries` arguments that make a series.
pub struct SeriesArgs {
    pub range: TimeRange,
    pub metric: Metric,
    pub interval: Interval,
}

impl TryFrom<SeriesArgs> for Series {
    type Error = SeriesError;

    fn try_from(a: SeriesArgs) -> Result<Self, SeriesError> {
        Series::new(
            Range::try_from(a.range)?,
            a.metric.into(),
            a.interval.into(),
        )
    }
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
    /// The same figures over the comparison period, when `compare` was given.
    pub previous: Option<Box<Overview>>,
    /// Unique visitors, one per person: an anonymous visitor who signs in (an event with both
    /// ids, such as `identify`) counts once, before and after.
    pub visitors: i64,
    /// False when `visitors` is a HyperLogLog estimate.
    pub visitors_exact: bool,
    /// Bot events left out of this answer (0 with `includeBots`).
    pub bot_events: i64,
    /// Visits: a session's events in the range (matching the filter); events without a
    /// session are no visit.
    pub visits: i64,
    /// Page views per visit (of the visits' page views).
    pub views_per_visit: f64,
    /// Mean visit duration in seconds: a visit's last event minus its first (0 for one event).
    pub avg_visit_duration: f64,
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
            previous: None,
            visitors: o.visitors,
            visitors_exact: o.visitors_exact,
            bot_events: o.bot_events,
            visits: o.visits,
            views_per_visit: o.views_per_visit,
            avg_visit_duration: o.avg_visit_duration,
        }
    }
}

#[derive(SimpleObject)]
pub struct Point {
    pub t: DateTime<Utc>,
    pub value: f64,
    /// With `compare`: the value of the comparison period's bucket holding this bucket's start
    /// moved back; null without `compare`, or when that moment is outside the period.
    pub previous: Option<f64>,
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

impl From<analytics::KeyCount> for KeyCount {
    fn from(k: analytics::KeyCount) -> Self {
        Self {
            key: k.key,
            count: k.count,
        }
    }
}

impl KeyCount {
    pub fn list(rows: Vec<analytics::KeyCount>) -> Vec<Self> {
        rows.into_iter().map(Self::from).collect()
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

impl From<FunnelStepInput> for behaviour::Step {
    fn from(s: FunnelStepInput) -> Self {
        Self {
            event_type: s.event_type.trim().to_string(),
            path: s.path.filter(|p| !p.is_empty()),
        }
    }
}

/// The `funnel` arguments that make a funnel.
pub struct FunnelArgs {
    pub steps: Vec<FunnelStepInput>,
    pub window_seconds: i32,
}

impl TryFrom<FunnelArgs> for behaviour::Funnel {
    type Error = FunnelError;

    fn try_from(a: FunnelArgs) -> Result<Self, FunnelError> {
        Self::new(
            a.steps.into_iter().map(behaviour::Step::from).collect(),
            Duration::seconds(a.window_seconds.into()),
        )
    }
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

impl From<activity::Model> for Event {
    fn from(e: activity::Model) -> Self {
        Self {
            id: ID(e.event_id.to_string()),
            event_type: e.event_type,
            occurred_at: e.occurred_at.with_timezone(&Utc),
            received_at: e.received_at.with_timezone(&Utc),
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

/// The `events` arguments that say which page to read.
pub struct PageArgs {
    pub first: i32,
    pub after: Option<String>,
}

impl TryFrom<PageArgs> for Page {
    type Error = PageError;

    fn try_from(a: PageArgs) -> Result<Self, PageError> {
        Ok(Self {
            size: PageSize::new(a.first.into())?,
            after: a.after.as_deref().map(Cursor::decode).transpose()?,
        })
    }
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

impl TryFrom<Option<LiveFilter>> for LiveMatch {
    type Error = FilterError;

    fn try_from(f: Option<LiveFilter>) -> Result<Self, FilterError> {
        let f = f.unwrap_or_default();
        Ok(Self {
            event_types: f.event_types.filter(|t| !t.is_empty()),
            path: clean(f.path),
            user_id: clean(f.user_id),
            // Checked as the stored-events filter checks it (an object, bounded), so a filter
            // either works on both or is refused by both.
            props: f
                .props
                .map(|Json(p)| Props::new(p))
                .transpose()?
                .flatten()
                .map(Props::into_map),
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

/// Which way a journey goes from its page.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum JourneyDirection {
    /// Where visits went after the page.
    Next,
    /// Where visits came from before it.
    Previous,
}

impl From<JourneyDirection> for journeys::Direction {
    fn from(d: JourneyDirection) -> Self {
        match d {
            JourneyDirection::Next => Self::Next,
            JourneyDirection::Previous => Self::Previous,
        }
    }
}

/// The `journeys` arguments that make a journey.
pub struct JourneyArgs {
    pub path: String,
    pub direction: JourneyDirection,
    pub steps: i32,
    pub limit: i32,
}

impl TryFrom<JourneyArgs> for journeys::Journey {
    type Error = journeys::JourneyError;

    fn try_from(a: JourneyArgs) -> Result<Self, journeys::JourneyError> {
        Self::new(&a.path, a.direction.into(), a.steps.into(), a.limit.into())
    }
}

/// One page of a journey's tree. The list is depth-first: the root (the journey's page, step 0)
/// first, every node before its children, children largest first.
#[derive(SimpleObject)]
pub struct JourneyNode {
    /// Position in the list.
    pub id: i32,
    /// The parent's `id`; null for the root.
    pub parent: Option<i32>,
    /// Pages away from the root.
    pub step: i32,
    pub path: String,
    /// Visits that reached this page along the path from the root.
    pub visits: i64,
    /// Visits that ended here: no page after it (NEXT), or none before it, i.e. entered the
    /// site here (PREVIOUS).
    pub ends: i64,
    /// Visits that went on to pages beyond `limit`, not listed as children.
    pub other_visits: i64,
}

impl From<journeys::Node> for JourneyNode {
    fn from(n: journeys::Node) -> Self {
        let int = |v: usize| i32::try_from(v).unwrap_or(i32::MAX);
        Self {
            id: int(n.id),
            parent: n.parent.map(int),
            step: int(n.step),
            path: n.path,
            visits: n.visits,
            ends: n.ends,
            other_visits: n.other_visits,
        }
    }
}

/// Clicks on a page on a grid of the document, for one screen class or all.
#[derive(SimpleObject)]
pub struct Heatmap {
    /// Clicks counted (of the class asked for), with or without a position.
    pub clicks: i64,
    /// Cells with clicks; `x`, `y` in 0..99, percent of the document's width and height.
    pub cells: Vec<HeatmapCell>,
    /// Clicks per screen class (document width): mobile < 576 px, tablet < 992, laptop < 1440,
    /// desktop; all classes whatever `screen` asked.
    pub screens: Vec<ScreenClicks>,
    /// The 20 most clicked selectors (of the class asked for).
    pub selectors: Vec<KeyCount>,
}

#[derive(SimpleObject)]
pub struct HeatmapCell {
    pub x: i32,
    pub y: i32,
    pub clicks: i64,
}

#[derive(SimpleObject)]
pub struct ScreenClicks {
    pub screen: String,
    pub clicks: i64,
}

impl From<heatmap::Heatmap> for Heatmap {
    fn from(h: heatmap::Heatmap) -> Self {
        Self {
            clicks: h.clicks,
            cells: h
                .cells
                .into_iter()
                .map(|c| HeatmapCell {
                    x: c.x,
                    y: c.y,
                    clicks: c.clicks,
                })
                .collect(),
            screens: h
                .screens
                .into_iter()
                .map(|(s, clicks)| ScreenClicks {
                    screen: s.as_str().to_string(),
                    clicks,
                })
                .collect(),
            selectors: KeyCount::list(h.selectors),
        }
    }
}

/// What `overview` and `timeseries` compare a range with: the same length of time just before
/// it, or a year before (see docs/API.md for how ranges of whole days and weeks are moved).
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum Comparison {
    PreviousPeriod,
    PreviousYear,
}

impl From<Comparison> for compare::Comparison {
    fn from(c: Comparison) -> Self {
        match c {
            Comparison::PreviousPeriod => Self::PreviousPeriod,
            Comparison::PreviousYear => Self::PreviousYear,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn time_range(from: &str, to: &str, tz: Option<&str>) -> TimeRange {
        TimeRange {
            from: t(from),
            to: t(to),
            time_zone: tz.map(str::to_string),
        }
    }

    /// The refusal as a client sees it: its code and message.
    fn refused<E>(e: E) -> (&'static str, String)
    where
        ApiError: From<E>,
    {
        let e = ApiError::from(e);
        (e.code(), e.message())
    }

    #[test]
    fn a_time_range_becomes_a_range_in_its_zone() {
        let r = Range::try_from(time_range(
            "2026-11-01T00:00:00Z",
            "2026-11-02T00:00:00Z",
            Some(" Europe/Paris "),
        ))
        .expect("a valid range");
        assert_eq!(
            (r.from(), r.to(), r.tz()),
            (
                t("2026-11-01T00:00:00Z"),
                t("2026-11-02T00:00:00Z"),
                Tz::Europe__Paris
            )
        );
        for blank in [None, Some(""), Some("  ")] {
            let r = Range::try_from(time_range(
                "2026-11-01T00:00:00Z",
                "2026-11-02T00:00:00Z",
                blank,
            ));
            assert_eq!(r.map(|r| r.tz()), Ok(Tz::UTC), "{blank:?}");
        }
    }

    #[test]
    fn a_bad_time_range_is_refused_as_bad_user_input() {
        for (range, error, message) in [
            (
                time_range("2026-11-02T00:00:00Z", "2026-11-01T00:00:00Z", None),
                RangeError::NotOrdered,
                "range: `from` must be before `to`",
            ),
            (
                time_range("2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z", None),
                RangeError::NotOrdered,
                "range: `from` must be before `to`",
            ),
            (
                time_range("2025-01-01T00:00:00Z", "2026-11-01T00:00:00Z", None),
                RangeError::TooLong,
                "range: at most 400 days",
            ),
            (
                time_range(
                    "2026-11-01T00:00:00Z",
                    "2026-11-02T00:00:00Z",
                    Some("Nowhere/City"),
                ),
                RangeError::UnknownTimeZone("Nowhere/City".into()),
                "unknown time zone `Nowhere/City` (use an IANA name such as Europe/Paris)",
            ),
        ] {
            let e = Range::try_from(range).expect_err("refused");
            assert_eq!(e, error);
            assert_eq!(refused(e), ("BAD_USER_INPUT", message.to_string()));
        }
    }

    #[test]
    fn an_event_filter_is_trimmed_and_blank_parts_are_absent() {
        assert_eq!(
            analytics::Filter::try_from(None),
            Ok(analytics::Filter::default())
        );
        let f = analytics::Filter::try_from(Some(EventFilter {
            event_type: Some(" page.view ".into()),
            path: Some("".into()),
            community_id: Some("  ".into()),
            user_id: Some("u-1".into()),
            props: Some(Json(json!({"plan": "pro"}))),
            ..Default::default()
        }))
        .expect("a valid filter");
        assert_eq!(f.event_type.as_deref(), Some("page.view"));
        assert_eq!((f.path, f.community_id), (None, None));
        assert_eq!(f.user_id.as_deref(), Some("u-1"));
        assert_eq!(
            f.props.map(Props::into_map),
            json!({"plan": "pro"}).as_object().cloned()
        );
        // An empty object matches every event: no property filter at all, so rollups may answer.
        let empty = analytics::Filter::try_from(Some(EventFilter {
            props: Some(Json(json!({}))),
            ..Default::default()
        }))
        .expect("a valid filter");
        assert!(empty.props.is_none() && empty.rollup_friendly());
    }

    #[test]
    fn a_bad_property_filter_is_refused_as_bad_user_input() {
        let with = |props: serde_json::Value| {
            analytics::Filter::try_from(Some(EventFilter {
                props: Some(Json(props)),
                ..Default::default()
            }))
        };
        for bad in [json!(["plan"]), json!("main"), json!(3), json!(null)] {
            let e = with(bad.clone()).expect_err("refused");
            assert_eq!(e, FilterError::PropsNotAnObject, "{bad}");
            let (code, message) = refused(e);
            assert_eq!(code, "BAD_USER_INPUT");
            assert!(message.contains("must be a JSON object"), "{message}");
        }
        let e = with(json!({ "k": "x".repeat(3000) })).expect_err("refused");
        assert_eq!(e, FilterError::PropsTooLarge(3008));
        assert_eq!(
            refused(e),
            (
                "BAD_USER_INPUT",
                "filter props is 3008 bytes of JSON; at most 2048".to_string()
            )
        );
    }

    #[test]
    fn series_arguments_become_a_series_of_at_most_max_buckets() {
        let args = |from: &str, to: &str, interval| SeriesArgs {
            range: time_range(from, to, None),
            metric: Metric::Events,
            interval,
        };
        assert!(Series::try_from(args(
            "2026-11-01T00:00:00Z",
            "2026-11-02T00:00:00Z",
            Interval::Minute
        ))
        .is_ok());
        let e = Series::try_from(args(
            "2026-10-01T00:00:00Z",
            "2026-11-01T00:00:00Z",
            Interval::Minute,
        ))
        .expect_err("refused");
        assert_eq!(e, SeriesError::TooManyBuckets { interval: "minute" });
        assert_eq!(
            refused(e),
            (
                "BAD_USER_INPUT",
                "too many minute buckets for this range (at most 2000): use a wider interval"
                    .to_string()
            )
        );
        let e = Series::try_from(args(
            "2026-11-02T00:00:00Z",
            "2026-11-01T00:00:00Z",
            Interval::Day,
        ))
        .expect_err("refused");
        assert_eq!(e, SeriesError::Range(RangeError::NotOrdered));
        assert_eq!(
            refused(e),
            (
                "BAD_USER_INPUT",
                "range: `from` must be before `to`".to_string()
            )
        );
    }

    fn step(event_type: &str, path: Option<&str>) -> FunnelStepInput {
        FunnelStepInput {
            event_type: event_type.into(),
            path: path.map(str::to_string),
        }
    }

    #[test]
    fn funnel_arguments_become_a_funnel() {
        let f = behaviour::Funnel::try_from(FunnelArgs {
            steps: vec![
                step(" page.view ", Some("/pricing")),
                step("signup.completed", Some("")),
            ],
            window_seconds: 3600,
        })
        .expect("a valid funnel");
        assert_eq!(
            f.steps(),
            &[
                behaviour::Step {
                    event_type: "page.view".into(),
                    path: Some("/pricing".into())
                },
                behaviour::Step {
                    event_type: "signup.completed".into(),
                    path: None
                },
            ]
        );
    }

    #[test]
    fn a_bad_funnel_is_refused_as_bad_user_input() {
        let args = |n: usize, window_seconds| FunnelArgs {
            steps: (0..n).map(|_| step("page.view", None)).collect(),
            window_seconds,
        };
        for (args, error, message) in [
            (
                args(0, 3600),
                FunnelError::StepCount(0),
                "a funnel has 1 to 8 steps, not 0",
            ),
            (
                args(9, 3600),
                FunnelError::StepCount(9),
                "a funnel has 1 to 8 steps, not 9",
            ),
            (
                args(2, 0),
                FunnelError::Window(0),
                "windowSeconds must be between 1 and 7776000 (90 days), not 0",
            ),
            (
                args(2, -1),
                FunnelError::Window(-1),
                "windowSeconds must be between 1 and 7776000 (90 days), not -1",
            ),
            (
                args(2, 7_776_001),
                FunnelError::Window(7_776_001),
                "windowSeconds must be between 1 and 7776000 (90 days), not 7776001",
            ),
        ] {
            let e = behaviour::Funnel::try_from(args).expect_err("refused");
            assert_eq!(e, error);
            assert_eq!(refused(e), ("BAD_USER_INPUT", message.to_string()));
        }
    }

    #[test]
    fn page_arguments_become_a_page() {
        let first = Page::try_from(PageArgs {
            first: 50,
            after: None,
        })
        .expect("a valid page");
        assert_eq!((first.size.get(), first.after), (50, None));
        let cursor = Cursor {
            occurred_at: t("2026-11-01T12:00:00.123456Z"),
            event_id: uuid::Uuid::from_u128(42),
        };
        let next = Page::try_from(PageArgs {
            first: 500,
            after: Some(cursor.encode()),
        })
        .expect("a valid page");
        assert_eq!((next.size.get(), next.after), (500, Some(cursor)));
    }

    #[test]
    fn a_bad_page_is_refused_as_bad_user_input() {
        for (args, error, message) in [
            (
                PageArgs {
                    first: 0,
                    after: None,
                },
                PageError::Size(0),
                "first must be between 1 and 500, not 0",
            ),
            (
                PageArgs {
                    first: 5000,
                    after: None,
                },
                PageError::Size(5000),
                "first must be between 1 and 500, not 5000",
            ),
            (
                PageArgs {
                    first: 10,
                    after: Some("garbage".into()),
                },
                PageError::Cursor,
                "`after` is not a cursor returned by this API",
            ),
            (
                PageArgs {
                    first: 10,
                    after: Some("12_notauuid".into()),
                },
                PageError::Cursor,
                "`after` is not a cursor returned by this API",
            ),
        ] {
            let e = Page::try_from(args).expect_err("refused");
            assert_eq!(e, error);
            assert_eq!(refused(e), ("BAD_USER_INPUT", message.to_string()));
        }
    }

    #[test]
    fn a_live_filter_becomes_a_live_match() {
        let m = LiveMatch::try_from(Some(LiveFilter {
            event_types: Some(vec!["page.view".into()]),
            path: Some(" /pricing ".into()),
            user_id: Some("".into()),
            props: Some(Json(json!({"plan": "pro"}))),
        }))
        .expect("a valid filter");
        assert_eq!(m.event_types, Some(vec!["page.view".to_string()]));
        assert_eq!(m.path.as_deref(), Some("/pricing"));
        assert_eq!(m.user_id, None);
        assert_eq!(m.props, json!({"plan": "pro"}).as_object().cloned());
        let none = LiveMatch::try_from(Some(LiveFilter {
            event_types: Some(vec![]),
            props: Some(Json(json!({}))),
            ..Default::default()
        }))
        .expect("a valid filter");
        assert_eq!((none.event_types, none.props), (None, None));
    }

    #[test]
    fn a_live_filter_refuses_what_the_stored_filter_refuses() {
        let with = |props: serde_json::Value| {
            LiveMatch::try_from(Some(LiveFilter {
                props: Some(Json(props)),
                ..Default::default()
            }))
        };
        let e = with(json!(["plan"])).expect_err("refused");
        assert_eq!(e, FilterError::PropsNotAnObject);
        assert_eq!(refused(e).0, "BAD_USER_INPUT");
        let e = with(json!({ "k": "x".repeat(3000) })).expect_err("refused");
        assert_eq!(e, FilterError::PropsTooLarge(3008));
        assert_eq!(refused(e).0, "BAD_USER_INPUT");
    }

    #[test]
    fn an_unknown_time_zone_is_refused() {
        assert_eq!(time_zone(Some("UTC")), Ok(Tz::UTC));
        assert_eq!(
            time_zone(Some("Mars/Base")),
            Err(RangeError::UnknownTimeZone("Mars/Base".into()))
        );
    }
}

/// What of visitors' IP addresses a project stores.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum IpStorage {
    /// The network only: IPv4 /24, IPv6 /48 (the default).
    Truncated,
    /// The whole address.
    Full,
    /// No address.
    None,
}

impl From<crate::privacy::IpStorage> for IpStorage {
    fn from(p: crate::privacy::IpStorage) -> Self {
        match p {
            crate::privacy::IpStorage::Truncated => IpStorage::Truncated,
            crate::privacy::IpStorage::Full => IpStorage::Full,
            crate::privacy::IpStorage::None => IpStorage::None,
        }
    }
}

impl From<IpStorage> for crate::privacy::IpStorage {
    fn from(p: IpStorage) -> Self {
        match p {
            IpStorage::Truncated => crate::privacy::IpStorage::Truncated,
            IpStorage::Full => crate::privacy::IpStorage::Full,
            IpStorage::None => crate::privacy::IpStorage::None,
        }
    }
}
