//! Query root: identity, projects and the analytics queries. Every resolver authorizes the caller
//! for the project first (role and project scope), parses its arguments into analytics' types
//! (`types::parse`: BAD_USER_INPUT when refused), then calls `analytics` or `storage`.

use async_graphql::{ComplexObject, Context, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::context::{api, authorize, authorize_global, principal};
use super::error::{ApiError, ApiResult};
use super::types::*;
use crate::analytics::people::{self, PageSize};
use crate::analytics::{self, behaviour, compare, counts, heatmap, journeys, Range};
use crate::auth::Role;
use crate::storage::{accounts, events, goals, projects};

#[derive(Default)]
pub struct QueryRoot;

pub fn parse_id(id: &ID, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id.as_str()).map_err(|_| ApiError::BadInput(format!("{what} must be a UUID")))
}

/// Parses the project id and checks the caller may read it at `min` or above.
fn project_for(ctx: &Context<'_>, project_id: &ID, min: Role) -> Result<Uuid, ApiError> {
    let project = parse_id(project_id, "projectId")?;
    authorize(ctx, min, Some(project))?;
    Ok(project)
}

/// An `EventFilter` parsed, its goal filters checked against the project's goals: a name that
/// is no goal of the project is BAD_USER_INPUT (it would silently match nobody).
async fn event_filter(
    ctx: &Context<'_>,
    project: Uuid,
    filter: Option<EventFilter>,
) -> Result<analytics::Filter, ApiError> {
    let filter: analytics::Filter = parse(filter)?;
    let names: Vec<&str> = filter
        .dims
        .as_ref()
        .map(|d| d.goal_names().collect())
        .unwrap_or_default();
    if !names.is_empty() {
        let known = goals::list(&api(ctx).db, project).await?;
        if let Some(missing) = names.iter().find(|n| !known.iter().any(|g| g.name == **n)) {
            return Err(ApiError::BadInput(format!(
                "no goal named {missing:?} in this project (a GOAL filter takes goal names)"
            )));
        }
    }
    Ok(filter)
}

/// Whether the client selected one of `fields` of this field's result, or of its `previous`:
/// figures that cost a raw read are computed only when asked for.
fn selected(ctx: &Context<'_>, fields: &[&str]) -> bool {
    let here = ctx.look_ahead();
    fields
        .iter()
        .any(|f| here.field(f).exists() || here.field("previous").field(f).exists())
}

// Resolvers take their GraphQL arguments one by one (the schema's argument list).
#[allow(clippy::too_many_arguments)]
#[Object]
impl QueryRoot {
    /// Single sign-on, when this server has it (`null` otherwise). Public: the sign-in page
    /// asks before anyone is signed in.
    async fn single_sign_on(&self, ctx: &Context<'_>) -> Option<SingleSignOn> {
        api(ctx).single_sign_on.then(|| SingleSignOn {
            login_url: "/auth/oidc/login".into(),
        })
    }

    /// The caller's identity and role.
    async fn me(&self, ctx: &Context<'_>) -> ApiResult<Me> {
        let p = principal(ctx)?;
        Ok(Me::from(p))
    }

    /// Projects the caller may see.
    async fn projects(&self, ctx: &Context<'_>) -> ApiResult<Vec<Project>> {
        let p = authorize(ctx, Role::Viewer, None)?;
        let list = projects::list(&api(ctx).db, p.projects.as_deref())
            .await
            .map_err(ApiError::from)?;
        Ok(list.into_iter().map(Project::from).collect())
    }

    /// Number of stored events of a project (all time).
    async fn event_count(&self, ctx: &Context<'_>, project_id: ID) -> ApiResult<i64> {
        let project = project_for(ctx, &project_id, Role::Viewer)?;
        Ok(events::count(&api(ctx).db, project)
            .await
            .map_err(ApiError::from)?)
    }

    /// Headline numbers for a range.
    async fn overview(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        range: TimeRange,
        filter: Option<EventFilter>,
        compare: Option<Comparison>,
    ) -> ApiResult<Overview> {
        let project = project_for(ctx, &project_id, Role::Viewer)?;
        let range: Range = parse(range)?;
        let filter = event_filter(ctx, project, filter).await?;
        let previous = compare
            .map(|c| compare::Shift::of(&range, c.into()).range(&range))
            .transpose()
            .map_err(ApiError::from)?;
        let db = &api(ctx).db;
        let visits = selected(ctx, &["visits", "viewsPerVisit", "avgVisitDuration"]);
        let (o, p) = tokio::try_join!(
            counts::overview(db, project, &range, &filter, visits),
            async {
                match &previous {
                    Some(prev) => counts::overview(db, project, prev, &filter, visits)
                        .await
                        .map(Some),
                    None => Ok(None),
                }
            }
        )
        .map_err(ApiError::from)?;
        let mut o = Overview::from(o);
        o.previous = p.map(|p| Box::new(Overview::from(p)));
        Ok(o)
    }

    /// A metric per bucket (zeros included), buckets cut in the range's time zone.
    async fn timeseries(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        range: TimeRange,
        #[graphql(default_with = "Metric::Events")] metric: Metric,
        #[graphql(default_with = "Interval::Hour")] interval: Interval,
        filter: Option<EventFilter>,
        compare: Option<Comparison>,
    ) -> ApiResult<Vec<Point>> {
        let project = project_for(ctx, &project_id, Role::Viewer)?;
        let series: counts::Series = parse(SeriesArgs {
            range,
            metric,
            interval,
        })?;
        let filter = event_filter(ctx, project, filter).await?;
        let previous = compare
            .map(|c| {
                let shift = compare::Shift::of(series.range(), c.into());
                let range = shift.range(series.range())?;
                let prev = counts::Series::new(range, metric.into(), interval.into())?;
                Ok::<_, counts::SeriesError>((shift, prev))
            })
            .transpose()
            .map_err(ApiError::from)?;
        let db = &api(ctx).db;
        let (rows, prev_rows) =
            tokio::try_join!(counts::timeseries(db, project, &series, &filter), async {
                match &previous {
                    Some((_, prev)) => counts::timeseries(db, project, prev, &filter).await,
                    None => Ok(Vec::new()),
                }
            })
            .map_err(ApiError::from)?;
        Ok(rows
            .into_iter()
            .map(|(t, value)| Point {
                t,
                value,
                previous: previous.as_ref().and_then(|(shift, prev)| {
                    compare::previous_value(shift, t, &prev_rows, prev.range().to())
                }),
            })
            .collect())
    }

    /// Distinct active users on the UTC day of `at` (default now), the 7 and the 30 days to it.
    async fn active_users(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        at: Option<DateTime<Utc>>,
        time_zone: Option<String>,
    ) -> ApiResult<ActiveUsers> {
        let project = project_for(ctx, &project_id, Role::Viewer)?;
        // Accepted for symmetry with the ranges, and checked; days are UTC days.
        super::types::time_zone(time_zone.as_deref()).map_err(ApiError::from)?;
        let a = counts::active_users(&api(ctx).db, project, at.unwrap_or_else(Utc::now))
            .await
            .map_err(ApiError::from)?;
        Ok(ActiveUsers {
            dau: a.dau,
            wau: a.wau,
            mau: a.mau,
        })
    }

    /// Event counts grouped by a dimension, largest first.
    async fn event_counts(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        range: TimeRange,
        group_by: GroupBy,
        #[graphql(default = 10)] limit: i32,
        filter: Option<EventFilter>,
    ) -> ApiResult<Vec<KeyCount>> {
        let project = project_for(ctx, &project_id, Role::Viewer)?;
        let range: Range = parse(range)?;
        let filter = event_filter(ctx, project, filter).await?;
        let rows = counts::grouped(
            &api(ctx).db,
            project,
            &range,
            &filter,
            group_by.into(),
            limit.into(),
        )
        .await
        .map_err(ApiError::from)?;
        Ok(KeyCount::list(rows))
    }

    /// Most viewed pages (page views by path).
    async fn top_pages(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        range: TimeRange,
        #[graphql(default = 10)] limit: i32,
    ) -> ApiResult<Vec<KeyCount>> {
        let project = project_for(ctx, &project_id, Role::Viewer)?;
        let range: Range = parse(range)?;
        let filter = analytics::Filter {
            event_type: Some("page.view".into()),
            ..Default::default()
        };
        let rows = counts::grouped(
            &api(ctx).db,
            project,
            &range,
            &filter,
            counts::GroupBy::Path,
            limit.into(),
        )
        .await
        .map_err(ApiError::from)?;
        Ok(KeyCount::list(rows))
    }

    /// Most clicked elements (clicks by CSS selector).
    async fn top_elements(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        range: TimeRange,
        #[graphql(default = 10)] limit: i32,
    ) -> ApiResult<Vec<KeyCount>> {
        let project = project_for(ctx, &project_id, Role::Viewer)?;
        let range: Range = parse(range)?;
        let filter = analytics::Filter {
            event_type: Some("element.click".into()),
            ..Default::default()
        };
        let rows = counts::grouped(
            &api(ctx).db,
            project,
            &range,
            &filter,
            counts::GroupBy::Element,
            limit.into(),
        )
        .await
        .map_err(ApiError::from)?;
        Ok(KeyCount::list(rows))
    }

    /// Scroll depth per page, most viewed first.
    async fn scroll_depth(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        range: TimeRange,
        path: Option<String>,
        #[graphql(default = 20)] limit: i32,
    ) -> ApiResult<Vec<ScrollDepth>> {
        let project = project_for(ctx, &project_id, Role::Viewer)?;
        let range: Range = parse(range)?;
        let rows =
            behaviour::scroll_depth(&api(ctx).db, project, &range, path.as_deref(), limit.into())
                .await
                .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(ScrollDepth::from).collect())
    }

    /// Users reaching each step in order, within `windowSeconds` of the first step.
    async fn funnel(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        range: TimeRange,
        steps: Vec<FunnelStepInput>,
        #[graphql(default = 86400)] window_seconds: i32,
    ) -> ApiResult<Funnel> {
        let project = project_for(ctx, &project_id, Role::Viewer)?;
        let range: Range = parse(range)?;
        let funnel: behaviour::Funnel = parse(FunnelArgs {
            steps,
            window_seconds,
        })?;
        let users = behaviour::funnel(&api(ctx).db, project, &range, &funnel)
            .await
            .map_err(ApiError::from)?;
        let first = users.first().copied().unwrap_or(0);
        Ok(Funnel {
            steps: funnel
                .steps()
                .iter()
                .cloned()
                .zip(users)
                .map(|(s, n)| FunnelStep {
                    event_type: s.event_type,
                    path: s.path,
                    users: n,
                    conversion: if first == 0 {
                        0.0
                    } else {
                        n as f64 / first as f64
                    },
                })
                .collect(),
        })
    }

    /// Cohorts by first-seen day or week, with how many came back in each later period.
    async fn retention(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        range: TimeRange,
        #[graphql(default_with = "Period::Day")] period: Period,
        #[graphql(default = 8)] periods: i32,
    ) -> ApiResult<Vec<Cohort>> {
        let project = project_for(ctx, &project_id, Role::Viewer)?;
        let range: Range = parse(range)?;
        let rows = behaviour::retention(
            &api(ctx).db,
            project,
            &range,
            period.into(),
            periods.max(1) as usize,
        )
        .await
        .map_err(ApiError::from)?;
        Ok(rows
            .into_iter()
            .map(|c| Cohort {
                start: behaviour::day_start(c.start),
                size: c.size,
                retained: c.retained,
            })
            .collect())
    }

    /// A tracked user's profile (by the site's own user id); null when unknown. Analyst and up.
    async fn user(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        id: String,
    ) -> ApiResult<Option<TrackedUser>> {
        let project = project_for(ctx, &project_id, Role::Analyst)?;
        let u = people::user(&api(ctx).db, project, &id)
            .await
            .map_err(ApiError::from)?;
        Ok(u.map(|u| TrackedUser {
            project,
            id: u.user.external_id,
            email: u.user.email,
            first_seen: u.user.first_seen.with_timezone(&Utc),
            last_seen: u.user.last_seen.with_timezone(&Utc),
            events: u.events,
        }))
    }

    /// A community's stats (members list: analyst and up); null when unknown.
    async fn community(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        id: String,
    ) -> ApiResult<Option<Community>> {
        let project = project_for(ctx, &project_id, Role::Viewer)?;
        let c = people::community(&api(ctx).db, project, &id)
            .await
            .map_err(ApiError::from)?;
        Ok(c.map(|c| Community {
            project,
            id: c.community.external_id,
            name: c.community.name,
            created_at: c.community.created_at.with_timezone(&Utc),
            events: c.events,
            members: c.members,
            top_event_types: KeyCount::list(c.top_event_types),
        }))
    }

    /// Raw events, newest first, cursor-paginated. Analyst and up.
    async fn events(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        range: TimeRange,
        filter: Option<EventFilter>,
        #[graphql(default = 50)] first: i32,
        after: Option<String>,
    ) -> ApiResult<EventConnection> {
        let project = project_for(ctx, &project_id, Role::Analyst)?;
        let range: Range = parse(range)?;
        let filter = event_filter(ctx, project, filter).await?;
        let page: people::Page = parse(PageArgs { first, after })?;
        let (rows, more) = people::events(&api(ctx).db, project, &range, &filter, &page)
            .await
            .map_err(ApiError::from)?;
        let edges: Vec<EventEdge> = rows
            .into_iter()
            .map(|e| EventEdge {
                cursor: people::Cursor::after(&e).encode(),
                node: Event::from(e),
            })
            .collect();
        let end_cursor = edges.last().map(|e| e.cursor.clone());
        Ok(EventConnection {
            edges,
            page_info: PageInfo {
                has_next_page: more,
                end_cursor,
            },
        })
    }

    /// Visitors, visits, events and page views per value of one dimension (pages, sources,
    /// campaigns, devices, countries...), most visitors first. `property` names the property
    /// for `PROPERTY`. Bots are left out unless `filter.includeBots`. With `compare`, each row's
    /// `previous` holds its key's figures over the comparison period.
    // The arguments are the public contract's (issue 24), one per GraphQL argument.
    #[allow(clippy::too_many_arguments)]
    async fn breakdown(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        range: TimeRange,
        dimension: Dimension,
        property: Option<String>,
        filter: Option<EventFilter>,
        #[graphql(default = 10)] limit: i32,
        compare: Option<Comparison>,
    ) -> ApiResult<Vec<BreakdownRow>> {
        let project = project_for(ctx, &project_id, Role::Viewer)?;
        let range: Range = parse(range)?;
        let dim: analytics::audience::Dimension = parse(DimensionArgs {
            dimension,
            property,
        })?;
        let filter = event_filter(ctx, project, filter).await?;
        let db = &api(ctx).db;
        let stats = selected(ctx, &["bounceRate", "avgVisitDuration"]);
        let Some(c) = compare else {
            let rows = analytics::audience::breakdown(
                db,
                project,
                &range,
                &filter,
                &dim,
                limit.into(),
                stats,
            )
            .await
            .map_err(ApiError::from)?;
            return Ok(rows.into_iter().map(BreakdownRow::from).collect());
        };
        let previous = compare::Shift::of(&range, c.into())
            .range(&range)
            .map_err(ApiError::from)?;
        let rows = analytics::audience::breakdown_compared(
            db,
            project,
            &range,
            &previous,
            &filter,
            &dim,
            limit.into(),
            stats,
        )
        .await
        .map_err(ApiError::from)?;
        Ok(rows
            .into_iter()
            .map(|(r, p)| {
                let mut row = BreakdownRow::from(r);
                row.previous = p.map(|p| Box::new(BreakdownRow::from(p)));
                row
            })
            .collect())
    }

    /// The project's goals (conversion definitions), oldest first. Viewer and up.
    async fn goals(&self, ctx: &Context<'_>, project_id: ID) -> ApiResult<Vec<Goal>> {
        let project = project_for(ctx, &project_id, Role::Viewer)?;
        let list = goals::list(&api(ctx).db, project)
            .await
            .map_err(ApiError::from)?;
        Ok(list.into_iter().map(Goal::from).collect())
    }

    /// Jobs in the dead-letter queue (failed set), newest first. Admin.
    async fn dead_letters(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] limit: i32,
    ) -> ApiResult<Vec<DeadLetter>> {
        authorize_global(ctx)?;
        let jobs = api(ctx)
            .queue
            .failed_jobs(limit.clamp(1, 500) as usize)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(jobs
            .into_iter()
            .map(|(id, reason, data, at)| DeadLetter {
                id: ID(id),
                reason,
                failed_at: DateTime::from_timestamp_millis(at).unwrap_or_default(),
                data,
            })
            .collect())
    }

    /// The ingest queue's state and depths. Admin.
    async fn queue_state(&self, ctx: &Context<'_>) -> ApiResult<QueueState> {
        authorize_global(ctx)?;
        let c = api(ctx)
            .queue
            .counts()
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(QueueState {
            paused: c.paused,
            waiting: c.waiting as i64,
            active: c.active as i64,
            delayed: c.delayed as i64,
            failed: c.failed as i64,
            completed: c.completed as i64,
        })
    }

    /// Dashboard and API accounts. Admin.
    async fn accounts(&self, ctx: &Context<'_>) -> ApiResult<Vec<Account>> {
        authorize_global(ctx)?;
        let list = accounts::list(&api(ctx).db).await.map_err(ApiError::from)?;
        Ok(list.into_iter().map(Account::from).collect())
    }

    /// From a page, where visits went next (or came from), as a tree of pages with visit
    /// counts, `steps` pages deep, `limit` children per page. BAD_USER_INPUT when no visit
    /// reached the page in the range.
    async fn journeys(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        range: TimeRange,
        path: String,
        direction: JourneyDirection,
        #[graphql(default = 3)] steps: i32,
        #[graphql(default = 5)] limit: i32,
        filter: Option<EventFilter>,
    ) -> ApiResult<Vec<JourneyNode>> {
        let project = project_for(ctx, &project_id, Role::Viewer)?;
        let range: Range = parse(range)?;
        let filter = event_filter(ctx, project, filter).await?;
        let journey: journeys::Journey = parse(JourneyArgs {
            path,
            direction,
            steps,
            limit,
        })?;
        let nodes = journeys::journeys(&api(ctx).db, project, &range, &filter, &journey)
            .await
            .map_err(ApiError::from)?;
        if nodes.first().is_none_or(|root| root.visits == 0) {
            return Err(ApiError::BadInput(format!(
                "no visits reached {} in this range",
                journey.path()
            ))
            .into());
        }
        Ok(nodes.into_iter().map(JourneyNode::from).collect())
    }

    /// Clicks on a page binned on a 1% grid of the document, clicks per screen class and the
    /// most clicked selectors; `screen` (mobile, tablet, laptop, desktop) narrows to one class.
    async fn heatmap(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        range: TimeRange,
        path: String,
        screen: Option<String>,
    ) -> ApiResult<Heatmap> {
        let project = project_for(ctx, &project_id, Role::Viewer)?;
        let range: Range = parse(range)?;
        let screen = screen
            .as_deref()
            .map(str::parse::<heatmap::Screen>)
            .transpose()
            .map_err(ApiError::from)?;
        let h = heatmap::heatmap(&api(ctx).db, project, &range, path.trim(), screen)
            .await
            .map_err(ApiError::from)?;
        Ok(h.into())
    }

    /// The project's shared links, revoked ones included, newest first (no tokens: those are
    /// shown once, by `createShareLink`). Admin or analyst of the project.
    async fn share_links(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
    ) -> ApiResult<Vec<super::share::ShareLink>> {
        Ok(super::share::list(ctx, project_id).await?)
    }

    /// The audit log, newest first: administrative actions and logins. Admin; an admin of
    /// some projects sees the entries whose projects are all theirs. `projectId`: only entries
    /// concerning that project.
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        project_id: Option<ID>,
        #[graphql(default = 50)] first: i32,
        after: Option<String>,
    ) -> ApiResult<super::audit::AuditPage> {
        Ok(super::audit::page(ctx, project_id, first, after).await?)
    }
}

/// A tracked person of a project.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct TrackedUser {
    #[graphql(skip)]
    pub project: Uuid,
    /// The site's own user id.
    pub id: String,
    pub email: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub events: i64,
}

#[ComplexObject]
impl TrackedUser {
    /// The user's latest events, newest first.
    async fn timeline(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: i32,
    ) -> ApiResult<Vec<Event>> {
        authorize(ctx, Role::Analyst, Some(self.project))?;
        let size = PageSize::clamped(first.into());
        let rows = people::timeline(&api(ctx).db, self.project, &self.id, size)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(Event::from).collect())
    }
}

/// A group within a project.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Community {
    #[graphql(skip)]
    pub project: Uuid,
    pub id: String,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub events: i64,
    /// Distinct users with events in the community.
    pub members: i64,
    pub top_event_types: Vec<KeyCount>,
}

#[ComplexObject]
impl Community {
    /// Member user ids, most active first. Analyst and up (user-level data).
    async fn member_ids(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: i32,
    ) -> ApiResult<Vec<String>> {
        authorize(ctx, Role::Analyst, Some(self.project))?;
        let size = PageSize::clamped(first.into());
        Ok(
            people::community_members(&api(ctx).db, self.project, &self.id, size)
                .await
                .map_err(ApiError::from)?,
        )
    }
}
