//! A dry run: a subscription's current version and a candidate run side by side over the subscription's
//! past events, in the sandbox, in the tenant's fair share of plugin time, sending and changing nothing.
//! It runs as a background job whose progress and report are stored, so any instance can answer for it.
//!
//! Its memory is bounded whatever is asked: the events are chosen by id first (a page of events at a time,
//! each id once), then read and run one at a time; and a tenant has at most [`MAX_RUNNING_PER_TENANT`] dry
//! runs, of at most [`MAX_EVENTS`] events together, running at once on an instance ([`Running`]).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::diff::RunOutcome;
use super::report::{Report, Summary};
use crate::clock::now_millis;
use crate::executor::PluginExecutor;
use crate::runtime::{Plugin, Runtime, SubscriptionInput};
use crate::store::{ClaimedEvent, DryRunRecord, Millis, Store, StoreResult, Subscription};
use crate::tenancy::Resolved;

/// Most events one dry run compares, and one tenant's running dry runs together.
pub const MAX_EVENTS: u32 = 10_000;
/// Dry runs one tenant may have running at once on an instance.
pub const MAX_RUNNING_PER_TENANT: usize = 2;
/// Events read from the store at once while choosing them (only their ids are kept).
const PAGE: u32 = 500;
/// A running dry run whose progress was not saved for this long was interrupted (its instance stopped).
const STALE_AFTER_MS: Millis = 5 * 60 * 1000;
/// Progress is saved at most this often.
const SAVE_EVERY: Duration = Duration::from_millis(500);

/// Which of the subscription's past events to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// The latest events it ran on, at most this many.
    Last(u32),
    /// The events it ran on in `[from, to)` (Unix milliseconds), the latest `MAX_EVENTS` of them.
    Range { from: Millis, to: Millis },
    /// These events of the tenant, whether or not the subscription ran on them.
    Ids(Vec<String>),
}

/// One side of the comparison: a version's label and its compiled plugin.
#[derive(Clone)]
pub struct Side {
    /// `acme/crm@2`, or `candidate sha256:…` for bytes not uploaded.
    pub label: String,
    pub plugin: Plugin,
    /// Its configuration (JSON text).
    pub config_json: String,
}

/// What a dry run needs to run.
pub struct DryRunJob {
    pub id: String,
    pub subscription: Subscription,
    pub current: Side,
    pub candidate: Side,
    pub selection: Selection,
    pub policy: Arc<Resolved>,
}

/// Where a dry run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Running,
    Done,
    Failed,
    /// The instance running it stopped before it ended; start it again.
    Interrupted,
}

/// A dry run as the API shows it, and as it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DryRunView {
    pub id: String,
    pub subscription_id: String,
    pub status: Status,
    pub current: String,
    pub candidate: String,
    pub selection: Selection,
    /// Events to compare (known once they are selected).
    pub events_total: u64,
    /// Events compared so far.
    pub events_done: u64,
    /// The counts so far.
    pub summary: Summary,
    /// Event ids asked for that the tenant has no stored event with (the first 100).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events_missing: Vec<String>,
    /// The differing events, once it is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Plugin time both versions used, in milliseconds.
    pub plugin_ms: f64,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl DryRunView {
    fn record(&self, tenant_id: &str) -> DryRunRecord {
        let status = match self.status {
            Status::Running => "running",
            Status::Done => "done",
            Status::Failed | Status::Interrupted => "failed",
        };
        DryRunRecord {
            id: self.id.clone(),
            tenant_id: tenant_id.to_owned(),
            subscription_id: self.subscription_id.clone(),
            status: status.to_owned(),
            body_json: serde_json::to_string(self).expect("a dry run always encodes"),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    /// A stored dry run as it stands now: one whose progress stopped being saved was interrupted.
    pub fn from_record(record: &DryRunRecord, now: Millis) -> StoreResult<DryRunView> {
        let mut view: DryRunView = serde_json::from_str(&record.body_json).map_err(|error| {
            crate::store::StoreError::Database(format!(
                "dry run {} has an unreadable body: {error}",
                record.id
            ))
        })?;
        if view.status == Status::Running && now - record.updated_at > STALE_AFTER_MS {
            view.status = Status::Interrupted;
        }
        Ok(view)
    }
}

/// What a dry run runs on.
#[derive(Clone)]
pub struct Services {
    pub store: Arc<dyn Store>,
    pub runtime: Arc<Runtime>,
    pub executor: Arc<PluginExecutor>,
}

/// The dry runs running on this instance, by tenant: how many, and how many events they may compare.
#[derive(Clone, Default)]
pub struct Running {
    by_tenant: Arc<Mutex<HashMap<String, (usize, u64)>>>,
}

/// A tenant over its share of running dry runs; says what to do.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "tenant {tenant} already has {runs} dry run(s) of {events} event(s) running; at most \
     {MAX_RUNNING_PER_TENANT} dry runs of {MAX_EVENTS} events together may run at once: wait for one to end"
)]
pub struct TooManyRunning {
    pub tenant: String,
    pub runs: usize,
    pub events: u64,
}

/// A tenant's place among the running dry runs, given back when dropped (the run ended, or never started).
pub struct Slot {
    running: Running,
    tenant: String,
    events: u64,
}

impl Running {
    /// A place for a dry run of `tenant` over at most `events` events, if the tenant has room.
    pub fn reserve(&self, tenant: &str, events: u64) -> Result<Slot, TooManyRunning> {
        let mut by_tenant = self.by_tenant.lock().expect("no panics while held");
        let (runs, used) = by_tenant.entry(tenant.to_owned()).or_default();
        if *runs >= MAX_RUNNING_PER_TENANT || *used + events > u64::from(MAX_EVENTS) {
            return Err(TooManyRunning { tenant: tenant.to_owned(), runs: *runs, events: *used });
        }
        *runs += 1;
        *used += events;
        Ok(Slot { running: self.clone(), tenant: tenant.to_owned(), events })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut by_tenant = self.running.by_tenant.lock().expect("no panics while held");
        if let Some((runs, used)) = by_tenant.get_mut(&self.tenant) {
            *runs -= 1;
            *used -= self.events;
            if *runs == 0 {
                by_tenant.remove(&self.tenant);
            }
        }
    }
}

impl Selection {
    /// The most events it can select.
    pub fn most_events(&self) -> u64 {
        match self {
            Selection::Last(count) => u64::from((*count).min(MAX_EVENTS)),
            Selection::Range { .. } => u64::from(MAX_EVENTS),
            Selection::Ids(ids) => ids.len() as u64,
        }
    }
}

/// Stores the dry run as running and starts it in the background, holding `slot` until it ends; returns it
/// as first stored.
pub async fn start(services: Services, job: DryRunJob, slot: Slot) -> StoreResult<DryRunView> {
    let now = now_millis();
    let view = DryRunView {
        id: job.id.clone(),
        subscription_id: job.subscription.id.clone(),
        status: Status::Running,
        current: job.current.label.clone(),
        candidate: job.candidate.label.clone(),
        selection: job.selection.clone(),
        events_total: 0,
        events_done: 0,
        summary: Summary::default(),
        events_missing: Vec::new(),
        report: None,
        error: None,
        plugin_ms: 0.0,
        created_at: now,
        updated_at: now,
    };
    services.store.save_dry_run(&view.record(&job.subscription.tenant_id)).await?;
    let started = view.clone();
    tokio::spawn(async move {
        let _slot = slot;
        let (tenant, id) = (job.subscription.tenant_id.clone(), job.id.clone());
        let mut view = view;
        if let Err(error) = execute(&services, &job, &mut view).await {
            tracing::warn!(%error, tenant = %tenant, dry_run = %id, "dry run failed");
            view.status = Status::Failed;
            view.error = Some(format!("the dry run stopped: {error}; start it again"));
            view.updated_at = now_millis();
            let _ = services.store.save_dry_run(&view.record(&tenant)).await;
        }
    });
    Ok(started)
}

async fn execute(services: &Services, job: &DryRunJob, view: &mut DryRunView) -> StoreResult<()> {
    let tenant = job.subscription.tenant_id.clone();
    let store = services.store.as_ref();
    let ids = select_event_ids(store, &job.subscription, &job.selection).await?;
    view.events_total = ids.len() as u64;
    let mut report = Report::default();
    let mut last_saved = Instant::now();
    for id in ids {
        // One event in memory at a time. An id asked for that names no stored event of the tenant (or an
        // event deleted since it was chosen) is listed as missing, not run.
        let Some(event) = store.get_event(&tenant, &id).await? else {
            view.events_total -= 1;
            if view.events_missing.len() < 100 {
                view.events_missing.push(id);
            }
            continue;
        };
        let event = Arc::new(event);
        // Both versions at once, each in the tenant's turn on the plugin threads.
        let (current, candidate) = tokio::join!(
            run_on_executor(services, job, &job.current, event.clone()),
            run_on_executor(services, job, &job.candidate, event.clone()),
        );
        let ((current, current_took), (candidate, candidate_took)) = (current, candidate);
        view.plugin_ms += (current_took + candidate_took).as_secs_f64() * 1000.0;
        report.add(&event.id, &event.event_type, &current, &candidate);
        view.events_done += 1;
        view.summary = report.summary.clone();
        if last_saved.elapsed() >= SAVE_EVERY {
            view.updated_at = now_millis();
            services.store.save_dry_run(&view.record(&tenant)).await?;
            last_saved = Instant::now();
        }
    }
    view.status = Status::Done;
    view.report = Some(report);
    view.updated_at = now_millis();
    services.store.save_dry_run(&view.record(&tenant)).await
}

/// The ids of the events to run, each once: the subscription's latest, or the given ones (in order).
async fn select_event_ids(
    store: &dyn Store,
    subscription: &Subscription,
    selection: &Selection,
) -> StoreResult<Vec<String>> {
    let (tenant, id) = (&subscription.tenant_id, &subscription.id);
    let (from, mut to, wanted) = match selection {
        Selection::Ids(ids) => {
            let mut seen = HashSet::new();
            return Ok(ids.iter().filter(|id| seen.insert(id.as_str())).cloned().collect());
        }
        Selection::Last(count) => (0, Millis::MAX, (*count).min(MAX_EVENTS) as usize),
        Selection::Range { from, to } => (*from, *to, MAX_EVENTS as usize),
    };
    let mut seen = HashSet::new();
    let mut events = Vec::new();
    // Pages newest first; an event that made several deliveries is in a page more than once. Only the ids
    // are kept: the events are read again one at a time as they run.
    loop {
        let page = store.subscription_events(tenant, id, from, to, PAGE).await?;
        let Some(&(oldest, _)) = page.last() else { break };
        let full = page.len() == PAGE as usize;
        for (_, event) in page {
            if events.len() < wanted && seen.insert(event.id.clone()) {
                events.push(event.id);
            }
        }
        if !full || events.len() >= wanted {
            break;
        }
        // Rows at `oldest` may go on in the next page: it reads them again (skipped as seen), unless the
        // whole page was at that one millisecond.
        to = if oldest + 1 < to { oldest + 1 } else { oldest };
    }
    Ok(events)
}

/// Runs one side on one event on the executor, under the tenant's limits, as the pipeline would.
async fn run_on_executor(
    services: &Services,
    job: &DryRunJob,
    side: &Side,
    event: Arc<ClaimedEvent>,
) -> (RunOutcome, Duration) {
    let (runtime, limits) = (services.runtime.clone(), job.policy.limits.clone());
    let (plugin, config_json) = (side.plugin.clone(), side.config_json.clone());
    let subscription = job.subscription.clone();
    let run = services.executor.submit(&subscription.tenant_id.clone(), move || {
        let input = crate::pipeline::event_input(&event);
        let sub_input = SubscriptionInput {
            id: &subscription.id,
            endpoint_url: &subscription.endpoint_url,
            config_json: &config_json,
        };
        let invocation = runtime.invoke_limited(&plugin, &input, &sub_input, &limits);
        let result = invocation
            .result
            .and_then(|requests| crate::pipeline::keep_to_allowed_hosts(requests, &subscription));
        let outcome = match result {
            Ok(requests) => RunOutcome::Requests(requests),
            Err(error) => RunOutcome::Failed { kind: error.kind().to_owned(), message: error.to_string() },
        };
        ((outcome, invocation.elapsed), invocation.elapsed)
    });
    run.await.unwrap_or_else(|| {
        let message = "the plugin run was lost (the service is stopping)".to_owned();
        (RunOutcome::Failed { kind: "unavailable".into(), message }, Duration::ZERO)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_has_at_most_its_share_of_running_dry_runs() {
        let running = Running::default();
        let first = running.reserve("acme", 6_000).unwrap();
        let busy = running.reserve("acme", 5_000).err().unwrap();
        assert_eq!(busy, TooManyRunning { tenant: "acme".into(), runs: 1, events: 6_000 });
        assert!(busy.to_string().contains("wait for one to end"), "{busy}");
        let second = running.reserve("acme", 4_000).unwrap();
        assert!(running.reserve("acme", 1).is_err(), "two at once at most");
        // Another tenant's are its own.
        let other = running.reserve("globex", u64::from(MAX_EVENTS)).unwrap();
        drop(first);
        let third = running.reserve("acme", 6_000).unwrap();
        drop((second, third, other));
        assert!(running.by_tenant.lock().unwrap().is_empty(), "every slot is given back");
    }

    #[test]
    fn a_selection_reserves_the_most_events_it_can_select() {
        assert_eq!(Selection::Ids(vec!["a".into(), "b".into()]).most_events(), 2);
        assert_eq!(Selection::Last(50).most_events(), 50);
        assert_eq!(Selection::Range { from: 0, to: 1 }.most_events(), u64::from(MAX_EVENTS));
    }
}
