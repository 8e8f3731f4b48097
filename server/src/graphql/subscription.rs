//! Subscription root: live event feed and per-second stats, fed by this process's [`LiveHub`]
//! (Redis pub/sub after the worker commits), so they work with any number of servers.
//!
//! Slow subscribers: the hub's per-project broadcast buffer is bounded (messages of at most 64
//! events); a subscriber that falls behind skips ahead and the next event it gets says how many
//! events it missed (`lagged`, from the gap in the stream positions). Nobody else waits for it.
//!
//! [`LiveHub`]: crate::live::LiveHub

use std::collections::BTreeMap;
use std::time::Duration;

use async_graphql::{Context, Json, Subscription, ID};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::context::{api, authorize};
use super::query::parse_id;
use super::types::{parse, Event, KeyCount, LiveEvent, LiveFilter, LiveStats};
use crate::auth::Role;
use crate::live::{LiveMatch, LiveMessage};

pub struct SubscriptionRoot;

/// Counts an open subscription for as long as its stream lives.
struct Open;

impl Open {
    fn new() -> Self {
        metrics::gauge!(crate::telemetry::names::SUBSCRIPTIONS_OPEN).increment(1.0);
        Open
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        metrics::gauge!(crate::telemetry::names::SUBSCRIPTIONS_OPEN).decrement(1.0);
    }
}

fn live_event(e: &crate::event::Event, received_at: DateTime<Utc>) -> Event {
    Event {
        id: ID(e.id.to_string()),
        event_type: e.event_type.clone(),
        occurred_at: e.occurred_at(),
        received_at,
        user_id: e.user_id.clone(),
        anonymous_id: e.anonymous_id.clone(),
        session_id: e.session_id.clone(),
        community_id: e.community_id.clone(),
        entity_type: e.entity_type.clone(),
        entity_id: e.entity_id.clone(),
        path: e.url.as_deref().map(crate::event::url_path),
        referrer: e.referrer.clone(),
        props: Json(serde_json::Value::Object(e.props.clone())),
    }
}

#[Subscription]
impl SubscriptionRoot {
    /// Events of a project as they are stored. Analyst and up.
    async fn live_events(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        filter: Option<LiveFilter>,
    ) -> async_graphql::Result<impl Stream<Item = LiveEvent>> {
        let project = parse_id(&project_id, "projectId")?;
        authorize(ctx, Role::Analyst, Some(project))?;
        let only: LiveMatch = parse(filter)?;
        let mut rx = api(ctx).live.subscribe(project);
        Ok(async_stream::stream! {
            let _open = Open::new();
            let mut lagged = 0i64;
            // Position of the next event expected in the project's stream: a gap is what this
            // subscriber missed while it was behind, counted in events.
            let mut expected: Option<u64> = None;
            loop {
                match rx.recv().await {
                    Ok(LiveMessage::Batch(batch, first)) => {
                        if let Some(gap) = expected.and_then(|x| first.checked_sub(x)).filter(|g| *g > 0) {
                            metrics::counter!(crate::telemetry::names::LIVE_LAGGED).increment(gap);
                            lagged += gap as i64;
                        }
                        expected = Some(first + batch.events.len() as u64);
                        let now = Utc::now();
                        for e in &batch.events {
                            if !only.matches(e) {
                                continue;
                            }
                            yield LiveEvent { event: live_event(e, now), lagged };
                            lagged = 0;
                        }
                    }
                    // Skipped messages: the next one's position says how many events they held.
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => break,
                }
            }
        })
    }

    /// Events stored per second (with a breakdown by type), one message a second. Viewer and up.
    async fn live_stats(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = LiveStats>> {
        let project = parse_id(&project_id, "projectId")?;
        authorize(ctx, Role::Viewer, Some(project))?;
        let mut rx = api(ctx).live.subscribe(project);
        Ok(async_stream::stream! {
            let _open = Open::new();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            let mut by_type: BTreeMap<String, i64> = BTreeMap::new();
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        let counts = std::mem::take(&mut by_type);
                        let mut list: Vec<KeyCount> = counts.into_iter().map(|(key, count)| KeyCount { key, count }).collect();
                        list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
                        yield LiveStats { at: Utc::now(), events: list.iter().map(|k| k.count).sum(), by_type: list };
                    }
                    msg = rx.recv() => match msg {
                        Ok(LiveMessage::Batch(batch, _)) => {
                            for e in &batch.events {
                                *by_type.entry(e.event_type.clone()).or_default() += 1;
                            }
                        }
                        // Counts are approximate for a lagging subscriber; the feed goes on.
                        Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => break,
                    }
                }
            }
        })
    }
}
