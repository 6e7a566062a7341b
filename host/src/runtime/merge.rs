//! Merging requests that wait for one destination with the plugin's optional `merge` export (WIT 0.1.2),
//! in a fresh sandbox under the same deadline and limits as `transform`. The plugin's answer is checked
//! here, whole, before anything is delivered: every request given carried exactly once, in order, and
//! each merged request valid as `transform`'s are. A plugin without the export (or built against 0.1.0
//! or 0.1.1) is never called: every request stays alone.

use std::time::{Duration, SystemTime};

use wasmtime::component::types::{ComponentItem, Type};
use wasmtime::component::{Component, ComponentExportIndex};

use super::bindings::{MERGE, wit};
use super::{
    InvokeError, Limits, LoadError, LogLine, OutgoingRequest, Plugin, Runtime, SubscriptionInput, block_on,
    output, settle, to_wit_subscription, within_deadline,
};

/// One request to deliver in place of the requests it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedRequest {
    /// What to send, its URL resolved (the subscription's endpoint when the plugin set none).
    pub request: OutgoingRequest,
    /// Indexes into the requests given to [`Runtime::merge_limited`], ascending: the ones this request
    /// delivers, whose deliveries its outcome is the outcome of.
    pub carries: Vec<usize>,
}

/// The outcome of one call to `merge`, with what the plugin logged (the shape of [`super::Invocation`]).
#[derive(Debug)]
pub struct MergeInvocation {
    /// The merged requests, in the order of their first index, carrying every index once; or why the
    /// plugin's answer was refused (then deliver the requests as they were).
    pub result: Result<Vec<MergedRequest>, InvokeError>,
    /// Time from creating the store to having the checked answer (zero when the plugin was not called).
    pub elapsed: Duration,
    pub logs: Vec<LogLine>,
    /// Log lines beyond [`Limits::max_log_lines`] or [`Limits::max_log_bytes`], counted but not kept.
    pub logs_dropped: usize,
}

impl Runtime {
    /// Asks `plugin` to merge `requests` (all for one destination, made by this plugin for
    /// `subscription`, in delivery order) into fewer, under `limits` capped by the runtime's, on this
    /// thread. When the plugin does not merge ([`super::PluginInfo::merges`]), or there are fewer than two
    /// requests, the plugin is not called and every request stays alone. Must not be called from inside an
    /// async runtime (use [`Runtime::merge_limited_async`] there).
    pub fn merge_limited(
        &self,
        plugin: &Plugin,
        requests: &[OutgoingRequest],
        subscription: &SubscriptionInput<'_>,
        limits: &Limits,
    ) -> MergeInvocation {
        block_on(self.merge_limited_async(plugin, requests, subscription, limits))
    }

    /// [`Runtime::merge_limited`] as a future: `merge` in a fresh store and instance. CPU-bound while wasm
    /// runs: poll it on a thread meant for plugins.
    pub async fn merge_limited_async(
        &self,
        plugin: &Plugin,
        requests: &[OutgoingRequest],
        subscription: &SubscriptionInput<'_>,
        limits: &Limits,
    ) -> MergeInvocation {
        let export = match &plugin.merge {
            Some(export) if requests.len() >= 2 => export,
            _ => {
                let alone = requests
                    .iter()
                    .enumerate()
                    .map(|(index, request)| MergedRequest { request: request.clone(), carries: vec![index] })
                    .collect();
                return MergeInvocation {
                    result: Ok(alone),
                    elapsed: Duration::ZERO,
                    logs: vec![],
                    logs_dropped: 0,
                };
            }
        };
        let limits = &limits.capped_by(&self.limits);
        // There is no event: the plugin's clocks read the time of the merge.
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let (mut store, clock) = self.sandbox_store(limits, now);
        let wit_requests: Vec<wit::Request> = requests.iter().map(output::to_wit).collect();
        let wit_subscription = to_wit_subscription(subscription);
        let called = within_deadline(&clock, async {
            let instance = plugin.pre.instance_pre().instantiate_async(&mut store).await?;
            let merge = instance.get_typed_func::<
                (&[wit::Request], &wit::Subscription),
                (Result<Vec<wit::Merged>, wit::PluginError>,),
            >(&mut store, export)?;
            let (returned,) = merge.call_async(&mut store, (&wit_requests, &wit_subscription)).await?;
            Ok(returned)
        })
        .await;
        let result = settle(called, &store, limits).and_then(|returned| match returned {
            Ok(merged) => check_answer(merged, requests.len(), subscription.endpoint_url, limits),
            Err(error) => Err(InvokeError::Plugin {
                permanent: error.kind == wit::ErrorKind::Permanent,
                message: error.message,
            }),
        });
        let result = super::blame_refused_memory(result, store.data(), limits);
        let elapsed = clock.used();
        let (logs, logs_dropped) = store.into_data().into_logs();
        MergeInvocation { result, elapsed, logs, logs_dropped }
    }
}

/// Checks the plugin's answer to `given` requests: each index in `0..given` carried exactly once, ascending
/// within a merged request, merged requests in the order of their first index, their size within
/// `limits.max_output_bytes`, and each request valid as `transform`'s must be.
fn check_answer(
    answer: Vec<wit::Merged>,
    given: usize,
    endpoint_url: &str,
    limits: &Limits,
) -> Result<Vec<MergedRequest>, InvokeError> {
    let invalid = |what: String| Err(InvokeError::InvalidOutput(format!("merge answer: {what}")));
    // Which merged request carries each index, once seen.
    let mut carrier: Vec<Option<usize>> = vec![None; given];
    let mut previous_first: Option<usize> = None;
    for (position, merged) in answer.iter().enumerate() {
        let Some(&first) = merged.carries.first() else {
            return invalid(format!("merged request {position} carries no request"));
        };
        let first = first as usize;
        if let Some(previous) = previous_first.filter(|&previous| first < previous) {
            return invalid(format!(
                "merged request {position} starts at index {first}, before merged request {} (at index \
                 {previous}); merged requests must be in the order of their first index",
                position - 1
            ));
        }
        previous_first = Some(first);
        let mut last: Option<usize> = None;
        for &index in &merged.carries {
            let index = index as usize;
            if index >= given {
                return invalid(format!(
                    "merged request {position} carries index {index}, but only {given} requests were given"
                ));
            }
            if let Some(last) = last.filter(|&last| index <= last) {
                return invalid(format!(
                    "merged request {position} carries index {index} after {last}; the indexes one request \
                     carries must be ascending, each once"
                ));
            }
            last = Some(index);
            if let Some(other) = carrier[index].replace(position) {
                return invalid(format!(
                    "index {index} is carried twice, by merged requests {other} and {position}; every \
                     request must be carried exactly once"
                ));
            }
        }
    }
    if let Some(missing) = carrier.iter().position(Option::is_none) {
        return invalid(format!(
            "index {missing} is carried by no merged request; every request given must be carried exactly once"
        ));
    }
    let requests: Vec<wit::Request> = answer.iter().map(|merged| merged.request.clone()).collect();
    output::check_bytes(&requests, &format!("merging {given} requests"), limits)?;
    answer
        .into_iter()
        .enumerate()
        .map(|(position, merged)| {
            let request =
                output::resolve(position, merged.request, endpoint_url).map_err(|error| match error {
                    InvokeError::InvalidOutput(what) => {
                        InvokeError::InvalidOutput(format!("merge answer: merged {what}"))
                    }
                    other => other,
                })?;
            Ok(MergedRequest { request, carries: merged.carries.into_iter().map(|i| i as usize).collect() })
        })
        .collect()
}

/// The component's `merge` export, if it has one; refuses one whose type is not
/// `func(requests: list<request>, subscription: subscription) -> result<list<merged>, plugin-error>` in
/// shape, rather than fail every merge later.
pub(super) fn find_export(component: &Component) -> Result<Option<ComponentExportIndex>, LoadError> {
    let Some((item, index)) = component.get_export(None, MERGE) else {
        return Ok(None);
    };
    let fits = match &item {
        ComponentItem::ComponentFunc(func) => {
            let params: Vec<Type> = func.params().map(|(_, ty)| ty).collect();
            let results: Vec<Type> = func.results().collect();
            matches!(params.as_slice(), [Type::List(_), Type::Record(_)])
                && matches!(results.as_slice(), [Type::Result(result)]
                    if matches!(result.ok(), Some(Type::List(_))) && matches!(result.err(), Some(Type::Record(_))))
        }
        _ => false,
    };
    if !fits {
        return Err(LoadError::WrongExports(format!(
            "its `{MERGE}` export is not `func(requests: list<request>, subscription: subscription) -> \
             result<list<merged>, plugin-error>`"
        )));
    }
    Ok(Some(index))
}

/// The real plugins, compiled for wasm32-wasip2 once per test process (shared with the end-to-end tests).
#[cfg(test)]
#[path = "../../../tests/support/plugins.rs"]
mod compiled;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{Body, EventInput, RuntimeSettings};

    fn answer(carries: &[&[u32]]) -> Vec<wit::Merged> {
        let request = |i: usize| wit::Request {
            method: wit::Method::Post,
            url: None,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: format!("batch {i}").into_bytes(),
        };
        carries
            .iter()
            .enumerate()
            .map(|(i, c)| wit::Merged { request: request(i), carries: c.to_vec() })
            .collect()
    }

    fn refusal(carries: &[&[u32]], given: usize) -> String {
        match check_answer(answer(carries), given, "https://hooks.example/x", &Limits::default()) {
            Err(InvokeError::InvalidOutput(message)) => message,
            other => panic!("expected a refusal of {carries:?}: {other:?}"),
        }
    }

    #[test]
    fn an_answer_carrying_every_index_once_in_order_is_kept_with_urls_resolved() {
        let merged =
            check_answer(answer(&[&[0, 2], &[1], &[3]]), 4, "https://hooks.example/x", &Limits::default())
                .unwrap();
        let carries: Vec<&[usize]> = merged.iter().map(|m| m.carries.as_slice()).collect();
        assert_eq!(carries, [&[0, 2][..], &[1], &[3]]);
        assert_eq!(merged[0].request.url, "https://hooks.example/x");
        assert_eq!(merged[1].request.body, Body::Text("batch 1".into()));
    }

    #[test]
    fn a_broken_answer_is_refused_naming_what_is_wrong() {
        assert!(
            refusal(&[&[0, 1], &[1]], 2).contains("index 1 is carried twice, by merged requests 0 and 1")
        );
        assert!(refusal(&[&[1]], 2).contains("index 0 is carried by no merged request"));
        assert!(refusal(&[&[1, 0]], 2).contains("carries index 0 after 1"));
        assert!(refusal(&[&[0, 0, 1]], 2).contains("carries index 0 after 0"));
        assert!(
            refusal(&[&[1], &[0]], 2).contains("merged request 1 starts at index 0, before merged request 0")
        );
        assert!(refusal(&[&[0, 1, 2]], 2).contains("carries index 2, but only 2 requests were given"));
        assert!(refusal(&[&[], &[0, 1]], 2).contains("merged request 0 carries no request"));
    }

    #[test]
    fn each_merged_request_is_checked_as_transforms_are() {
        let mut bad = answer(&[&[0], &[1]]);
        bad[1].request.url = Some("file:///etc/passwd".into());
        let error = check_answer(bad, 2, "https://hooks.example/x", &Limits::default()).unwrap_err();
        assert_eq!(
            error,
            InvokeError::InvalidOutput(
                "merge answer: merged request 1: URL `file:///etc/passwd` is not an absolute http(s) URL"
                    .into()
            )
        );
        let small = Limits { max_output_bytes: 10, ..Limits::default() };
        let error = check_answer(answer(&[&[0, 1]]), 2, "https://hooks.example/x", &small).unwrap_err();
        assert!(
            matches!(&error, InvokeError::OutputTooLarge(m) if m.contains("merging 2 requests")),
            "{error:?}"
        );
    }

    fn runtime() -> Runtime {
        let limits = Limits { timeout_ms: 5_000, ..Limits::default() };
        Runtime::new(RuntimeSettings { limits, max_instances: 4, ..RuntimeSettings::default() }).unwrap()
    }

    fn subscription(config_json: &str) -> SubscriptionInput<'_> {
        SubscriptionInput { id: "sub_1", endpoint_url: "https://hooks.example/x", config_json }
    }

    /// The requests `plugin` makes for three sample events.
    fn transformed(runtime: &Runtime, plugin: &Plugin, config_json: &str) -> Vec<OutgoingRequest> {
        ["call.ended.json", "call.ended.missed.json", "call.ended.minimal.json"]
            .iter()
            .flat_map(|sample| {
                let text = std::fs::read_to_string(compiled::sample_path(sample)).unwrap();
                let event = crate::event::Event::parse(text.as_bytes()).unwrap();
                let input: EventInput<'_> = event.as_input();
                runtime.invoke(plugin, &input, &subscription(config_json)).result.unwrap()
            })
            .collect()
    }

    #[test]
    fn the_sheets_plugin_merges_appends_into_one_of_all_rows() {
        let runtime = runtime();
        let plugin = runtime.load(&compiled::plugin_bytes("google-sheets")).unwrap();
        assert!(plugin.info().merges);
        let config = r#"{"spreadsheet_id": "sheet_123"}"#;
        let requests = transformed(&runtime, &plugin, config);
        let merging = runtime.merge_limited(&plugin, &requests, &subscription(config), runtime.limits());
        let merged = merging.result.unwrap();
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].carries, [0, 1, 2]);
        assert_eq!(merged[0].request.url, requests[0].url);
        let body: serde_json::Value = serde_json::from_slice(merged[0].request.body.as_bytes()).unwrap();
        assert_eq!(body["values"].as_array().unwrap().len(), 3);
        assert!(merging.elapsed > Duration::ZERO);
    }

    #[test]
    fn a_plugin_without_merge_is_not_called_and_each_request_stays_alone() {
        let runtime = runtime();
        for name in ["slack", "plugin-0-1-0", "plugin-0-1-1"] {
            let plugin = runtime.load(&compiled::plugin_bytes(name)).unwrap();
            assert!(!plugin.info().merges, "{name}");
            let config = r##"{"channel": "#ventas"}"##;
            let requests = transformed(&runtime, &plugin, if name == "slack" { config } else { "{}" });
            assert!(requests.len() >= 2, "{name}: {requests:?}");
            let merging = runtime.merge_limited(&plugin, &requests, &subscription(config), runtime.limits());
            let merged = merging.result.unwrap();
            assert_eq!(merged.len(), requests.len(), "{name}");
            assert!(merged.iter().enumerate().all(|(i, m)| m.carries == [i] && m.request == requests[i]));
            assert_eq!(merging.elapsed, Duration::ZERO, "{name}: the plugin was not called");
        }
    }

    #[test]
    fn plugins_built_against_0_1_1_load_check_their_config_and_run() {
        let runtime = runtime();
        let plugin = runtime.load(&compiled::plugin_bytes("plugin-0-1-1")).unwrap();
        assert_eq!(plugin.info().world_version, "0.1.1");
        assert!(plugin.info().validates_config);
        assert!(plugin.info().imports.contains(&"gancho:plugin/log@0.1.1".to_owned()), "{:?}", plugin.info());
        assert!(runtime.check_config(&plugin, "[]", runtime.limits()).is_err());
        assert_eq!(runtime.check_config(&plugin, "{}", runtime.limits()), Ok(()));
    }

    /// Merges three requests with the `misbehaving` plugin set to `behaviour`, under `limits`.
    fn misbehave(runtime: &Runtime, behaviour: &str, limits: &Limits) -> MergeInvocation {
        let plugin = runtime.load(&compiled::plugin_bytes("misbehaving")).unwrap();
        let config = format!(r#"{{"behaviour": "{behaviour}"}}"#);
        let requests = transformed(runtime, &plugin, &config);
        runtime.merge_limited(&plugin, &requests, &subscription(&config), limits)
    }

    #[test]
    fn a_plugin_breaking_the_contract_is_refused_whole() {
        let runtime = runtime();
        let cases = [
            ("merge-duplicate", "index 0 is carried twice"),
            ("merge-missing", "index 0 is carried by no merged request"),
            ("merge-descending", "carries index 1 after 2"),
            ("merge-out-of-order", "merged request 1 starts at index 1, before merged request 0"),
            ("merge-beyond", "carries index 3, but only 3 requests were given"),
            ("merge-empty", "merged request 0 carries no request"),
            ("merge-bad-url", "merged request 0: URL `file:///etc/passwd`"),
        ];
        for (behaviour, expected) in cases {
            let error = misbehave(&runtime, behaviour, runtime.limits()).result.unwrap_err();
            assert!(
                matches!(&error, InvokeError::InvalidOutput(m) if m.contains(expected)),
                "{behaviour}: {error:?}"
            );
        }
        let merged = misbehave(&runtime, "merge-all", runtime.limits()).result.unwrap();
        assert_eq!(merged[0].carries, [0, 1, 2]);
        assert_eq!(
            merged[0].request.body,
            Body::Text("evt_call_ended,evt_call_ended_missed,evt_call_ended_minimal".into())
        );
    }

    #[test]
    fn a_merge_runs_under_the_same_limits_as_transform() {
        let runtime = runtime();
        let limits = Limits { timeout_ms: 200, ..Limits::default() };
        let endless = misbehave(&runtime, "merge-endless-loop", &limits);
        assert_eq!(endless.result.unwrap_err(), InvokeError::Timeout { limit_ms: 200 });
        assert!(endless.elapsed < Duration::from_millis(600), "{:?}", endless.elapsed);
        let error = misbehave(&runtime, "merge-panic", &limits).result.unwrap_err();
        assert!(
            matches!(&error, InvokeError::Trap { message } if message.contains("boom: merging")),
            "{error:?}"
        );
        let error = misbehave(&runtime, "merge-huge", &limits).result.unwrap_err();
        assert!(matches!(error, InvokeError::OutputTooLarge(_)), "{error:?}");
        let error = misbehave(&runtime, "merge-error", &limits).result.unwrap_err();
        assert_eq!(error, InvokeError::Plugin { permanent: false, message: "cannot merge right now".into() });
    }

    /// Compiles only if the merge can run in the worker's multi-threaded tasks (its future is `Send`).
    #[allow(dead_code)]
    fn the_merge_can_be_awaited_on_any_thread(runtime: &Runtime, plugin: &Plugin, limits: &Limits) {
        fn send<T: Send>(_: T) {}
        send(runtime.merge_limited_async(plugin, &[], &subscription("{}"), limits));
    }
}
