//! An event's trace identity, derived rather than stored: the trace id and the ingest span's id come from
//! (tenant, event id), a plugin run's span id from its subscription and when it ran, a delivery attempt's
//! from the delivery and its attempt number. Every stage, on any instance and after any restart, names the
//! same ids without passing or storing anything. Also the W3C `traceparent` header's text.

use sha2::{Digest, Sha256};

/// A trace id (16 bytes) as OpenTelemetry and W3C Trace Context carry it.
pub type TraceId = [u8; 16];
/// A span id (8 bytes).
pub type SpanId = [u8; 8];

/// SHA-256 of the parts, each ended by a NUL (ids never contain one), after a label saying what the id is
/// for: ids of different kinds never collide by construction.
fn digest(label: &str, parts: &[&str]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(label.as_bytes());
    hasher.update([0]);
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize().into()
}

/// The first `N` bytes of the digest, never all zero (W3C: an all-zero id is invalid).
fn id<const N: usize>(label: &str, parts: &[&str]) -> [u8; N] {
    let mut id = [0; N];
    id.copy_from_slice(&digest(label, parts)[..N]);
    if id.iter().all(|byte| *byte == 0) {
        id[N - 1] = 1;
    }
    id
}

/// The trace every stage of the event's journey belongs to.
pub fn trace_id(tenant: &str, event_id: &str) -> TraceId {
    id("gancho.trace", &[tenant, event_id])
}

/// The ingest span's id: the root of the event's trace, the parent of its plugin runs.
pub fn ingest_span_id(tenant: &str, event_id: &str) -> SpanId {
    id("gancho.ingest", &[tenant, event_id])
}

/// A plugin run's span id: the run of `subscription`'s plugin at `ran_at` (the millisecond its deliveries
/// were made at, which they keep), the parent of those deliveries' attempts.
pub fn run_span_id(tenant: &str, event_id: &str, subscription_id: &str, ran_at: i64) -> SpanId {
    id("gancho.run", &[tenant, event_id, subscription_id, &ran_at.to_string()])
}

/// A delivery attempt's span id (`attempt` counts from 1): the parent the receiver sees in `traceparent`.
pub fn attempt_span_id(delivery_id: &str, attempt: u32) -> SpanId {
    id("gancho.attempt", &[delivery_id, &attempt.to_string()])
}

/// A W3C `traceparent` value: version 00, the ids in lowercase hex, and the sampled flag.
pub fn traceparent(trace_id: &TraceId, span_id: &SpanId, sampled: bool) -> String {
    format!("00-{}-{}-{}", hex::encode(trace_id), hex::encode(span_id), if sampled { "01" } else { "00" })
}

/// The parts of a `traceparent` value (trace id, parent span id, sampled), if it is a valid version-00
/// one: lowercase hex, ids not all zero.
pub fn parse_traceparent(value: &str) -> Option<(TraceId, SpanId, bool)> {
    let mut fields = value.trim().split('-');
    let (version, trace, span, flags) = (fields.next()?, fields.next()?, fields.next()?, fields.next()?);
    let lowercase_hex = |text: &str, len: usize| {
        text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    if version != "00" || fields.next().is_some() {
        return None;
    }
    if !lowercase_hex(trace, 32) || !lowercase_hex(span, 16) || !lowercase_hex(flags, 2) {
        return None;
    }
    let mut trace_id = [0; 16];
    let mut span_id = [0; 8];
    hex::decode_to_slice(trace, &mut trace_id).ok()?;
    hex::decode_to_slice(span, &mut span_id).ok()?;
    if trace_id == [0; 16] || span_id == [0; 8] {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some((trace_id, span_id, flags & 1 == 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_same_wherever_they_are_derived_and_differ_between_events_and_tenants() {
        assert_eq!(trace_id("acme", "evt_1"), trace_id("acme", "evt_1"));
        assert_ne!(trace_id("acme", "evt_1"), trace_id("acme", "evt_2"));
        assert_ne!(trace_id("acme", "evt_1"), trace_id("globex", "evt_1"));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(trace_id("ab", "c"), trace_id("a", "bc"));
        assert_ne!(ingest_span_id("acme", "evt_1"), ingest_span_id("acme", "evt_2"));
        assert_ne!(run_span_id("acme", "evt_1", "sub_1", 1), run_span_id("acme", "evt_1", "sub_1", 2));
        assert_ne!(run_span_id("acme", "evt_1", "sub_1", 1), run_span_id("acme", "evt_1", "sub_2", 1));
        assert_ne!(attempt_span_id("dlv_1", 1), attempt_span_id("dlv_1", 2));
    }

    #[test]
    fn the_trace_id_is_the_first_sixteen_bytes_of_a_labelled_sha256() {
        let digest = Sha256::digest(b"gancho.trace\0acme\0evt_1\0");
        assert_eq!(trace_id("acme", "evt_1")[..], digest[..16]);
    }

    #[test]
    fn traceparent_is_version_00_lowercase_hex_with_the_sampled_flag() {
        let trace = trace_id("acme", "evt_1");
        let span = attempt_span_id("dlv_1", 1);
        let value = traceparent(&trace, &span, true);
        assert_eq!(value.len(), 55);
        assert_eq!(value, format!("00-{}-{}-01", hex::encode(trace), hex::encode(span)));
        assert!(traceparent(&trace, &span, false).ends_with("-00"));
        assert_eq!(parse_traceparent(&value), Some((trace, span, true)));
        assert_eq!(
            parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"),
            Some((
                [
                    0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31,
                    0x9c
                ],
                [0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31],
                false
            ))
        );
    }

    #[test]
    fn invalid_traceparents_are_refused() {
        for value in [
            "",
            "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
        ] {
            assert_eq!(parse_traceparent(value), None, "{value}");
        }
    }
}
