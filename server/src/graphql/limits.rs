//! How much of the database one project's readers may hold at once: at most
//! `SIGHTLINE_QUERIES_PER_PROJECT` top-level queries that name a `projectId` run together, over
//! every caller and request of that project; a query beyond them waits for a slot at most
//! [`SLOT_WAIT`] (1 s), then is answered `RATE_LIMITED`. One viewer aliasing a hundred
//! 400-day funnels in one request therefore gets a handful answered and the rest refused, and
//! the other tenants' queries find the database as they left it. Each query is also bounded in time, by the read
//! connection's `statement_timeout` (`storage::Db::connect`).
//!
//! This is a schema extension, so no resolver has to remember it: it reads the `projectId`
//! argument of each field of `QueryRoot` (a literal or a variable) before the resolver runs.
//! The slot is taken before authorization (a refused caller holds it for no time); slots of a
//! project nobody is querying are dropped, so made-up ids cannot grow the map.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextResolve, ResolveInfo,
};
use async_graphql::parser::types::Field;
use async_graphql::{Pos, Request, ServerResult, Value, Variables};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use super::error::ApiError;

/// How long a query waits for a slot of its project before it is refused.
pub const SLOT_WAIT: Duration = Duration::from_secs(1);

/// The running queries of every project.
pub struct ProjectSlots {
    per_project: usize,
    running: Mutex<HashMap<Uuid, Arc<Semaphore>>>,
}

/// One running query's slot; freed on drop.
pub struct Slot {
    permit: Option<OwnedSemaphorePermit>,
    project: Uuid,
    slots: Arc<ProjectSlots>,
}

impl ProjectSlots {
    pub fn new(per_project: usize) -> Arc<Self> {
        Arc::new(Self {
            per_project: per_project.max(1),
            running: Mutex::default(),
        })
    }

    /// A slot for a query of `project`, unless it already runs as many as allowed.
    pub fn try_acquire(self: &Arc<Self>, project: Uuid) -> Option<Slot> {
        let mut running = self.running.lock().ok()?;
        let sem = running
            .entry(project)
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_project)))
            .clone();
        let permit = sem.try_acquire_owned().ok()?;
        Some(Slot {
            permit: Some(permit),
            project,
            slots: self.clone(),
        })
    }

    /// A slot for a query of `project`, waiting at most `wait` for one to free up: the fields of
    /// one ordinary request (a dashboard view asks for a dozen at once) queue briefly, while a
    /// flood of aliases still finds the slots taken and is refused.
    pub async fn acquire(self: &Arc<Self>, project: Uuid, wait: Duration) -> Option<Slot> {
        if let Some(slot) = self.try_acquire(project) {
            return Some(slot);
        }
        // The clone is taken under the lock, so the entry is not dropped while we wait on it.
        let sem = self.running.lock().ok()?.get(&project)?.clone();
        let permit = tokio::time::timeout(wait, sem.acquire_owned())
            .await
            .ok()?
            .ok()?;
        Some(Slot {
            permit: Some(permit),
            project,
            slots: self.clone(),
        })
    }

    /// Projects with a query running now.
    pub fn projects_running(&self) -> usize {
        self.running.lock().map(|r| r.len()).unwrap_or_default()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // Under the lock, so no one takes a permit between the release and the removal.
        if let Ok(mut running) = self.slots.running.lock() {
            drop(self.permit.take());
            // Only the map holds it: no query runs and nobody waits.
            if running
                .get(&self.project)
                .is_some_and(|s| Arc::strong_count(s) == 1)
            {
                running.remove(&self.project);
            }
        }
    }
}

/// The schema extension (one per schema; [`ExtensionFactory::create`] makes one per request).
pub struct QueryLimits {
    slots: Arc<ProjectSlots>,
}

impl QueryLimits {
    pub fn new(per_project: usize) -> Self {
        Self {
            slots: ProjectSlots::new(per_project),
        }
    }
}

impl ExtensionFactory for QueryLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestLimits {
            slots: self.slots.clone(),
            variables: Mutex::default(),
        })
    }
}

struct RequestLimits {
    slots: Arc<ProjectSlots>,
    /// The request's variables, to read a `projectId` given as `$project`.
    variables: Mutex<Variables>,
}

impl RequestLimits {
    fn project_of(&self, field: &Field) -> Option<Uuid> {
        let arg = field.get_argument("projectId")?;
        let value = {
            let vars = self.variables.lock().ok()?;
            arg.node
                .clone()
                .into_const_with(|name| vars.get(&name).cloned().ok_or(()))
                .ok()?
        };
        // An id that is not a UUID is refused by the resolver itself.
        match value {
            Value::String(s) => Uuid::parse_str(&s).ok(),
            _ => None,
        }
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for RequestLimits {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Ok(mut v) = self.variables.lock() {
            *v = request.variables.clone();
        }
        next.run(ctx, request).await
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.parent_type != "QueryRoot" {
            return next.run(ctx, info).await;
        }
        let Some(project) = self.project_of(info.field) else {
            return next.run(ctx, info).await;
        };
        let Some(slot) = self.slots.acquire(project, SLOT_WAIT).await else {
            metrics::counter!(crate::telemetry::names::GRAPHQL_QUERIES_REFUSED).increment(1);
            let err: async_graphql::Error = ApiError::RateLimited(format!(
                "this project already runs {} queries; retry when they finish",
                self.slots.per_project
            ))
            .into();
            return Err(err.into_server_error(Pos::default()));
        };
        let out = next.run(ctx, info).await;
        drop(slot);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_per_project_and_freed() {
        let slots = ProjectSlots::new(2);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let first = slots.try_acquire(a).expect("first");
        let second = slots.try_acquire(a).expect("second");
        assert!(
            slots.try_acquire(a).is_none(),
            "a third of one project waits"
        );
        assert!(slots.try_acquire(b).is_some(), "another project is served");
        drop(first);
        let third = slots.try_acquire(a).expect("freed");
        drop((second, third));
        assert_eq!(slots.projects_running(), 0, "idle projects leave the map");
    }
}
