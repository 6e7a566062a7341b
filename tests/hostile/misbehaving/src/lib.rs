//! A plugin that misbehaves in the way its config's `behaviour` names, to show the sandbox contains it.

use gancho_sdk::{ConfigError, Event, Merged, PluginError, Request, Subscription};

#[derive(serde::Deserialize)]
pub struct Config {
    behaviour: String,
}

gancho_sdk::plugin!(transform, validate = validate, merge = merge);

/// Misbehaves when its configuration is checked, too, with the `check-` behaviours (the others must pass
/// the check, so that subscriptions misbehaving on events can be made): the check runs under the same
/// limits as `transform`.
fn validate(config: &Config) -> Result<(), ConfigError> {
    match config.behaviour.as_str() {
        "check-endless-loop" => loop {
            std::hint::black_box(0u64);
        },
        "check-panic" => panic!("boom: checking the config"),
        "" => Err(ConfigError::field("behaviour", "set it to the way to misbehave, e.g. \"panic\"")),
        _ => Ok(()),
    }
}

fn log_everywhere(event: &Event) {
    gancho_sdk::info!("mapping event {}", event.id);
    gancho_sdk::warn!("contact has no email");
    println!("stdout: {}", event.event_type);
    eprintln!("stderr: checked");
}

fn transform(event: Event, subscription: Subscription<Config>) -> Result<Vec<Request>, PluginError> {
    match subscription.config.behaviour.as_str() {
        "endless-loop" => {
            let mut counter = 0u64;
            loop {
                counter = std::hint::black_box(counter.wrapping_add(1));
            }
        }
        "memory-bomb" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "stack-overflow" => Ok(vec![Request::text(format!("{}", recurse(std::hint::black_box(1))))]),
        "panic" => panic!("boom: the customer's config has no phone field"),
        "huge-output" => Ok((0..10_000).map(|i| Request::text(format!("request {i}"))).collect()),
        "huge-body" => Ok(vec![Request::new().body(vec![b'x'; 8 << 20])]),
        "bad-header" => Ok(vec![Request::text("hi").header("x-injected", "a\r\nset-cookie: evil")]),
        "bad-url" => Ok(vec![Request::text("hi").url("file:///etc/passwd")]),
        "noisy" => {
            for i in 0..1000 {
                println!("line {i} on stdout");
                gancho_sdk::info!("log line {i}");
            }
            Ok(vec![])
        }
        "probe" => Ok(vec![Request::json(&probe(&event))?]),
        // Logging through every channel a plugin has, then sending, skipping or panicking: what the
        // integrator reads on the delivery.
        "log-then-send" => {
            log_everywhere(&event);
            Ok(vec![Request::json(&serde_json::json!({"event": event.id}))?])
        }
        "log-then-skip" => {
            log_everywhere(&event);
            Ok(vec![])
        }
        "log-then-panic" => {
            log_everywhere(&event);
            panic!("no phone number in event {}", event.id)
        }
        // Ways of waiting inside the host, each of which must still end at the deadline.
        "sleep-in-host-call" => {
            std::thread::sleep(std::time::Duration::from_secs(3600));
            Ok(vec![Request::text("woke up after an hour")])
        }
        "blocked-on-stdin" => {
            let mut everything = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut everything);
            let stdin = wasip2::cli::stdin::get_stdin();
            loop {
                let _ = stdin.blocking_read(4096);
            }
        }
        "poll-loop" => {
            let stdin = wasip2::cli::stdin::get_stdin();
            loop {
                let now = wasip2::clocks::monotonic_clock::subscribe_duration(0);
                let soon = wasip2::clocks::monotonic_clock::subscribe_duration(1_000_000);
                let readable = stdin.subscribe();
                std::hint::black_box(wasip2::io::poll::poll(&[&now, &soon, &readable]));
            }
        }
        "poll-forever" => {
            let an_hour = wasip2::clocks::monotonic_clock::subscribe_duration(3_600_000_000_000);
            loop {
                an_hour.block();
            }
        }
        "stdout-flood" => {
            let stdout = wasip2::cli::stdout::get_stdout();
            let chunk = vec![b'x'; 4096];
            for line in 0u64.. {
                println!("flooding stdout, line {line}");
                let _ = stdout.blocking_write_and_flush(&chunk);
            }
            unreachable!()
        }
        "resource-hoard" => {
            // Handles the host must keep until the plugin drops them, and it never does: twice the cap.
            for _ in 0..20_000 {
                std::mem::forget(wasip2::clocks::monotonic_clock::subscribe_duration(0));
            }
            Ok(vec![Request::text("kept 20000 host resources")])
        }
        "poll-huge-list" => {
            // One poll over millions of entries (all the same ready pollable): the host walks the list
            // before it can wait, and answers with as many indices.
            let ready: Vec<_> =
                (0..5_000).map(|_| wasip2::clocks::monotonic_clock::subscribe_duration(0)).collect();
            let list: Vec<&wasip2::io::poll::Pollable> =
                (0..3_000_000).map(|i| &ready[i % ready.len()]).collect();
            let answered = wasip2::io::poll::poll(&list);
            Ok(vec![Request::text(format!("{} ready", answered.len()))])
        }
        "random-flood" => {
            let bytes = wasip2::random::random::get_random_bytes(1 << 30);
            Ok(vec![Request::text(format!("{} random bytes", bytes.len()))])
        }
        // Misbehaving only when asked to merge: each event is one text request of its id.
        merging if merging.starts_with("merge-") => Ok(vec![Request::text(event.id)]),
        other => Err(PluginError::permanent(format!("unknown behaviour `{other}`"))),
    }
}

/// Answers a merge the way the `merge-` behaviours name, each breaking the contract or a limit once;
/// any other behaviour merges everything into one request whose body is the bodies joined by commas.
fn merge(requests: Vec<Request>, subscription: Subscription<Config>) -> Result<Vec<Merged>, PluginError> {
    let all: Vec<usize> = (0..requests.len()).collect();
    let joined = || {
        let bodies: Vec<String> = requests.iter().map(|r| r.body_text().into_owned()).collect();
        Request::text(bodies.join(","))
    };
    let alone = |index: usize| Merged::alone(index, requests[index].clone());
    Ok(match subscription.config.behaviour.as_str() {
        "merge-duplicate" => vec![Merged { request: joined(), carries: all }, alone(0)],
        "merge-missing" => vec![Merged { request: joined(), carries: all[1..].to_vec() }],
        "merge-descending" => vec![Merged { request: joined(), carries: all.into_iter().rev().collect() }],
        "merge-out-of-order" => (0..requests.len()).rev().map(alone).collect(),
        "merge-beyond" => vec![Merged { request: joined(), carries: (0..=requests.len()).collect() }],
        "merge-empty" => vec![Merged { request: joined(), carries: vec![] }],
        "merge-bad-url" => vec![Merged { request: joined().url("file:///etc/passwd"), carries: all }],
        "merge-huge" => vec![Merged { request: Request::new().body(vec![b'x'; 8 << 20]), carries: all }],
        "merge-error" => return Err(PluginError::transient("cannot merge right now")),
        "merge-panic" => panic!("boom: merging"),
        "merge-endless-loop" => loop {
            std::hint::black_box(0u64);
        },
        _ => vec![Merged { request: joined(), carries: all }],
    })
}

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let padding = std::hint::black_box([depth; 64]);
    if depth == u64::MAX { 0 } else { recurse(depth + 1).wrapping_add(padding[3]) }
}

/// Tries every capability a plugin should not have and reports what it saw.
fn probe(event: &Event) -> serde_json::Value {
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    serde_json::json!({
        "event": event.id,
        "read_file": std::fs::read_to_string("/etc/passwd").map(|_| "read").unwrap_or_else(|e| e.to_string().leak()),
        "list_dir": std::fs::read_dir(".").map(|_| "listed".to_owned()).unwrap_or_else(|e| e.to_string()),
        "env_vars": std::env::vars().count(),
        "connect": std::net::TcpStream::connect("127.0.0.1:5432").map(|_| "connected".to_owned()).unwrap_or_else(|e| e.to_string()),
        "clock_unix_seconds": now,
    })
}
