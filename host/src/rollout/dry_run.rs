//! A dry run: a subscription's current version and a candidate run side by side over the subscription's
//! past events, in the sandbox, in the tenant's fair share of plugin time, sending and changing nothing.
//! It runs as a background job whose progress and report are stored, so any instance can answer for it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::diff::RunOutcome;
use super::report::{Report, Summary};
use crate::clock::now_millis;
use crate::executor::PluginExecutor;
use crate::runtime::{Plugin, Runtime, SubscriptionInput};
use crate::store::{ClaimedEvent, DryRunRecord, Millis, Store, StoreResult, Subscription};
use crate::tenancy::Resolved;

/// Most events one dry run compares.
pub const MAX_EVENTS: u32 = 10_000;
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

/// Stores the dry run as running and starts it in the background; returns it as first stored.
pub async fn start(services: Services, job: DryRunJob) -> StoreResult<DryRunView> {
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
    let events = select_events(services.store.as_ref(), &job.subscription, &job.selection).await?;
    view.events_total = events.len() as u64;
    if let Selection::Ids(ids) = &job.selection {
        let found: std::collections::HashSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
        view.events_missing =
            ids.iter().filter(|id| !found.contains(id.as_str())).take(100).cloned().collect();
    }
    let mut report = Report::default();
    let mut last_saved = Instant::now();
    for event in &events {
        let event = Arc::new(event.clone());
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

/// The events to run: the subscription's latest (each once), or the given ones.
async fn select_events(
    store: &dyn Store,
    subscription: &Subscription,
    selection: &Selection,
) -> StoreResult<Vec<ClaimedEvent>> {
    let (tenant, id) = (&subscription.tenant_id, &subscription.id);
    let (from, mut to, wanted) = match selection {
        Selection::Ids(ids) => {
            let mut events = Vec::with_capacity(ids.len());
            for event_id in ids {
                events.extend(store.get_event(tenant, event_id).await?);
            }
            return Ok(events);
        }
        Selection::Last(count) => (0, Millis::MAX, (*count).min(MAX_EVENTS) as usize),
        Selection::Range { from, to } => (*from, *to, MAX_EVENTS as usize),
    };
    const PAGE: u32 = 500;
    let mut seen = std::collections::HashSet::new();
    let mut events = Vec::new();
    // Pages newest first; an event that made several deliveries is in a page more than once.
    loop {
        let page = store.subscription_events(tenant, id, from, to, PAGE).await?;
        let Some(&(oldest, _)) = page.last() else { break };
        let full = page.len() == PAGE as usize;
        for (_, event) in page {
            if events.len() < wanted && seen.insert(event.id.clone()) {
                events.push(event);
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
