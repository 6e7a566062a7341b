//! One transform as the service runs it (a fresh instance per event), against the same mapping compiled
//! natively, and against one instance reused for every event. Prints µs/event and the ratios, then the
//! same Slack mapping written in JavaScript (QuickJS) and Python (componentize-py): µs per event in a fresh
//! and a reused instance, where a fresh instance's time goes, and how long compiling each takes.
//!
//! `cargo bench -p gancho --bench transform` (`-- --languages-only` skips the criterion runs)

#[path = "../support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use gancho::runtime::{Runtime, RuntimeSettings, SubscriptionInput};
use gancho_sdk::testing::samples;
use gancho_sdk::{Event, Subscription};

const ENDPOINT: &str = "https://hooks.slack.example/services/T0/B0/x";

struct Case {
    name: &'static str,
    event: &'static str,
}

const CASES: &[Case] = &[
    Case { name: "slack/missed-call", event: samples::CALL_ENDED_MISSED },
    Case { name: "slack/chat-closed", event: samples::CHAT_CLOSED },
];

fn native(event: &gancho::event::Event) -> usize {
    // The same work the guest does: own the fields, parse the config, map the event.
    let event = Event {
        id: event.id.clone(),
        event_type: event.event_type.clone(),
        tenant: event.tenant.clone(),
        timestamp: event.timestamp.clone(),
        data_json: event.data.get().to_owned(),
    };
    let subscription = Subscription::parse("sub_1", ENDPOINT, "{}").unwrap();
    gancho_plugin_slack::transform(event, subscription).unwrap().len()
}

/// The slack plugin as built by the tests, or the build named by `GANCHO_BENCH_SLACK_WASM` (to compare
/// build settings).
fn slack_wasm() -> Vec<u8> {
    match std::env::var_os("GANCHO_BENCH_SLACK_WASM") {
        Some(path) => std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path:?}: {e}")),
        None => support::plugin_bytes("slack"),
    }
}

fn benches(c: &mut Criterion) {
    let runtime = Runtime::new(RuntimeSettings::default()).unwrap();
    let plugin = runtime.load(&slack_wasm()).unwrap();
    let subscription = SubscriptionInput { id: "sub_1", endpoint_url: ENDPOINT, config_json: "{}" };
    for case in CASES {
        let event = gancho::event::Event::parse(case.event.as_bytes()).unwrap();
        let input = event.as_input();
        let mut group = c.benchmark_group(case.name);
        group.measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
        group.bench_function("native", |b| b.iter(|| native(black_box(&event))));
        let mut reused = runtime.reused_instance(&plugin).unwrap();
        group.bench_function("wasm-reused-instance", |b| {
            b.iter(|| reused.call(black_box(&input), &subscription, runtime.limits()).unwrap().len())
        });
        group.bench_function("wasm-fresh-instance", |b| {
            b.iter(|| runtime.invoke(&plugin, black_box(&input), &subscription).result.unwrap().len())
        });
        group.finish();
    }
}

/// Mean µs per call of `f` over a fixed number of calls, after a warm-up.
fn mean_micros(mut f: impl FnMut() -> usize) -> f64 {
    const CALLS: u32 = 20_000;
    for _ in 0..2_000 {
        black_box(f());
    }
    let started = Instant::now();
    for _ in 0..CALLS {
        black_box(f());
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(CALLS)
}

/// A compact table of the three ways, per case, with the ratios to native.
fn summary() {
    let runtime = Runtime::new(RuntimeSettings::default()).unwrap();
    let plugin = runtime.load(&slack_wasm()).unwrap();
    let subscription = SubscriptionInput { id: "sub_1", endpoint_url: ENDPOINT, config_json: "{}" };
    println!(
        "\n{:<22} {:>10} {:>12} {:>12} {:>9} {:>9}",
        "case", "native µs", "reused µs", "fresh µs", "reused×", "fresh×"
    );
    for case in CASES {
        let event = gancho::event::Event::parse(case.event.as_bytes()).unwrap();
        let input = event.as_input();
        let native_us = mean_micros(|| native(&event));
        let mut reused = runtime.reused_instance(&plugin).unwrap();
        let reused_us = mean_micros(|| reused.call(&input, &subscription, runtime.limits()).unwrap().len());
        let fresh_us = mean_micros(|| runtime.invoke(&plugin, &input, &subscription).result.unwrap().len());
        println!(
            "{:<22} {native_us:>10.2} {reused_us:>12.2} {fresh_us:>12.2} {:>9.2} {:>9.2}",
            case.name,
            reused_us / native_us,
            fresh_us / native_us
        );
    }
}

/// Mean µs per call of `f`, over as many calls as fit in `budget` (at least 20), after a short warm-up.
fn mean_micros_within(budget: Duration, mut f: impl FnMut()) -> f64 {
    let warm_up = Instant::now();
    while warm_up.elapsed() < budget / 10 {
        f();
    }
    let (started, mut calls) = (Instant::now(), 0u32);
    while calls < 20 || started.elapsed() < budget {
        f();
        calls += 1;
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(calls)
}

/// The Slack mapping in each language: µs per event fresh and reused, a fresh instance's phases, and the
/// compile time (what an upload costs; later loads are precompiled).
fn languages() {
    let budget = Duration::from_secs(3);
    let runtime = Runtime::new(RuntimeSettings::default()).unwrap();
    let subscription = SubscriptionInput { id: "sub_1", endpoint_url: ENDPOINT, config_json: "{}" };
    println!(
        "\n{:<26} {:>9} {:>10} {:>10} | fresh: {:>7} {:>12} {:>8} {:>7} | {:>10}",
        "slack, by language",
        "size KiB",
        "fresh µs",
        "reused µs",
        "store",
        "instantiate",
        "call",
        "drop",
        "compile ms"
    );
    // `GANCHO_BENCH_JS_WASM` and `GANCHO_BENCH_PYTHON_WASM` name other builds, to compare build settings.
    let guest = |name: &str, variable: &str| match std::env::var_os(variable) {
        Some(path) => std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path:?}: {e}")),
        None => support::guest_plugin_bytes(name),
    };
    for (language, wasm) in [
        ("rust", slack_wasm()),
        ("javascript (quickjs)", guest("slack-js", "GANCHO_BENCH_JS_WASM")),
        ("python (componentize-py)", guest("slack-python", "GANCHO_BENCH_PYTHON_WASM")),
    ] {
        // `GANCHO_BENCH_LANGUAGES=javascript,python` measures only those.
        let only = std::env::var("GANCHO_BENCH_LANGUAGES").unwrap_or_default();
        if !only.is_empty() && !only.split(',').any(|name| language.starts_with(name)) {
            continue;
        }
        let compiling = Instant::now();
        let plugin = runtime.load(&wasm).unwrap();
        let compile_ms = compiling.elapsed().as_secs_f64() * 1e3;
        for case in CASES {
            let event = gancho::event::Event::parse(case.event.as_bytes()).unwrap();
            let input = event.as_input();
            let fresh = mean_micros_within(budget, || {
                black_box(runtime.invoke(&plugin, black_box(&input), &subscription).result.unwrap());
            });
            let mut reused = runtime.reused_instance(&plugin).unwrap();
            let reused = mean_micros_within(budget / 3, || {
                black_box(reused.call(black_box(&input), &subscription, runtime.limits()).unwrap());
            });
            let mut phases = [0.0f64; 4];
            let mut runs = 0;
            let started = Instant::now();
            while runs < 20 || started.elapsed() < budget / 3 {
                let p = runtime.fresh_instance_phases(&plugin, &input, &subscription).unwrap();
                for (sum, d) in phases.iter_mut().zip([p.store, p.instantiate, p.call, p.drop]) {
                    *sum += d.as_secs_f64() * 1e6;
                }
                runs += 1;
            }
            let [store, instantiate, call, drop] = phases.map(|sum| sum / f64::from(runs));
            println!(
                "{:<26} {:>9} {fresh:>10.1} {reused:>10.1} |        {store:>7.1} {instantiate:>12.1} {call:>8.1} {drop:>7.1} | {compile_ms:>10.0}",
                format!("{language} {}", case.name.trim_start_matches("slack/")),
                wasm.len() / 1024,
            );
        }
    }
}

criterion_group!(transform, benches);

fn main() {
    if !std::env::args().any(|arg| arg == "--languages-only") {
        transform();
        criterion::Criterion::default().configure_from_args().final_summary();
        summary();
    }
    languages();
}
