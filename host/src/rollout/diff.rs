//! What changed between the requests two plugin versions made for one event: method, URL and headers by
//! name, and bodies by what they are — a JSON body field by field (a renamed field is one removed path and
//! one added path, not a text diff of a minified line), a form body key by key, anything else as text.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::runtime::OutgoingRequest;

/// At most this many changes are kept per event; the rest are counted in `changes_omitted`.
pub const MAX_CHANGES_PER_EVENT: usize = 50;
/// Text values longer than this are cut in a change (the diff is for reading, not for replaying).
const MAX_TEXT_CHARS: usize = 1000;

/// What one version did with one event.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    /// It made these requests (none: it skipped the event).
    Requests(Vec<OutgoingRequest>),
    /// It failed: the error's kind (`trap`, `plugin_error_permanent`, …) and message.
    Failed { kind: String, message: String },
}

/// One difference between the current version's requests and the candidate's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Change {
    /// Where: `requests[0].body.properties.phone`, `requests[0].headers.content-type`, `requests[1]`.
    pub path: String,
    /// `changed`, `added` (only the candidate has it) or `removed` (only the current version has it).
    pub kind: ChangeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Changed,
    Added,
    Removed,
}

/// The changes from `current` to `candidate` (empty: the same requests), at most
/// [`MAX_CHANGES_PER_EVENT`], with how many more there were.
pub fn request_changes(current: &[OutgoingRequest], candidate: &[OutgoingRequest]) -> (Vec<Change>, usize) {
    let mut changes = Changes::default();
    for index in 0..current.len().max(candidate.len()) {
        let path = format!("requests[{index}]");
        match (current.get(index), candidate.get(index)) {
            (Some(before), Some(after)) => compare_request(&mut changes, &path, before, after),
            (Some(before), None) => changes.push(&path, Some(summary(before)), None),
            (None, Some(after)) => changes.push(&path, None, Some(summary(after))),
            (None, None) => {}
        }
    }
    (changes.kept, changes.omitted)
}

#[derive(Default)]
struct Changes {
    kept: Vec<Change>,
    omitted: usize,
}

impl Changes {
    fn push(&mut self, path: &str, before: Option<Value>, after: Option<Value>) {
        if self.kept.len() >= MAX_CHANGES_PER_EVENT {
            self.omitted += 1;
            return;
        }
        let kind = match (&before, &after) {
            (Some(_), Some(_)) => ChangeKind::Changed,
            (None, _) => ChangeKind::Added,
            (_, None) => ChangeKind::Removed,
        };
        self.kept.push(Change { path: path.to_owned(), kind, before, after });
    }
}

fn compare_request(changes: &mut Changes, path: &str, before: &OutgoingRequest, after: &OutgoingRequest) {
    if before.method != after.method {
        changes.push(&format!("{path}.method"), Some(before.method.into()), Some(after.method.into()));
    }
    if before.url != after.url {
        changes.push(&format!("{path}.url"), Some(text(&before.url)), Some(text(&after.url)));
    }
    let (before_headers, after_headers) = (headers(before), headers(after));
    compare_objects(changes, &format!("{path}.headers"), &before_headers, &after_headers);
    compare_bodies(changes, &format!("{path}.body"), before, after);
}

/// Headers as a JSON object by lowercase name, repeated headers' values joined by `, `.
fn headers(request: &OutgoingRequest) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    for (name, value) in &request.headers {
        let name = name.to_ascii_lowercase();
        let joined = match map.get(&name).and_then(Value::as_str) {
            Some(earlier) => format!("{earlier}, {value}"),
            None => value.clone(),
        };
        map.insert(name, Value::String(joined));
    }
    map
}

fn content_type(request: &OutgoingRequest) -> String {
    request
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.to_ascii_lowercase())
        .unwrap_or_default()
}

/// A body as the kind of document it is, if it is one both sides share.
enum Document {
    Json(Value),
    Form(serde_json::Map<String, Value>),
}

fn document(request: &OutgoingRequest, kind: &str) -> Option<Document> {
    let bytes = request.body.as_bytes();
    match kind {
        "json" => serde_json::from_slice(bytes).ok().map(Document::Json),
        "form" => Some(Document::Form(form_fields(bytes))),
        _ => None,
    }
}

/// A form body as an object by key; a repeated key's values as an array, in order.
fn form_fields(bytes: &[u8]) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    for (key, value) in url::form_urlencoded::parse(bytes) {
        let value = Value::String(value.into_owned());
        match map.get_mut(key.as_ref()) {
            Some(Value::Array(values)) => values.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
            None => {
                map.insert(key.into_owned(), value);
            }
        }
    }
    map
}

fn body_kind(content_type: &str) -> &'static str {
    if content_type.contains("json") {
        "json"
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        "form"
    } else {
        "text"
    }
}

fn compare_bodies(changes: &mut Changes, path: &str, before: &OutgoingRequest, after: &OutgoingRequest) {
    if before.body == after.body {
        return;
    }
    let (kind_before, kind_after) = (body_kind(&content_type(before)), body_kind(&content_type(after)));
    if kind_before == kind_after {
        match (document(before, kind_before), document(after, kind_after)) {
            (Some(Document::Json(a)), Some(Document::Json(b))) => {
                return compare_values(changes, path, &a, &b);
            }
            (Some(Document::Form(a)), Some(Document::Form(b))) => {
                return compare_objects(changes, path, &a, &b);
            }
            _ => {}
        }
    }
    changes.push(path, Some(body_text(before)), Some(body_text(after)));
}

fn compare_values(changes: &mut Changes, path: &str, before: &Value, after: &Value) {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => compare_objects(changes, path, a, b),
        (Value::Array(a), Value::Array(b)) => {
            for index in 0..a.len().max(b.len()) {
                let path = format!("{path}[{index}]");
                match (a.get(index), b.get(index)) {
                    (Some(x), Some(y)) => compare_values(changes, &path, x, y),
                    (x, y) => changes.push(&path, x.map(shortened), y.map(shortened)),
                }
            }
        }
        (a, b) if a != b => changes.push(path, Some(shortened(a)), Some(shortened(b))),
        _ => {}
    }
}

/// Keys in the current version's order, then the keys only the candidate has.
fn compare_objects(
    changes: &mut Changes,
    path: &str,
    before: &serde_json::Map<String, Value>,
    after: &serde_json::Map<String, Value>,
) {
    for (key, value) in before {
        let path = child_path(path, key);
        match after.get(key) {
            Some(other) => compare_values(changes, &path, value, other),
            None => changes.push(&path, Some(shortened(value)), None),
        }
    }
    for (key, value) in after.iter().filter(|(key, _)| !before.contains_key(*key)) {
        changes.push(&child_path(path, key), None, Some(shortened(value)));
    }
}

/// `path.key`, or `path["odd key"]` when the key is not made of letters, digits, `_` and `-`.
fn child_path(path: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain { format!("{path}.{key}") } else { format!("{path}[{}]", Value::String(key.to_owned())) }
}

fn summary(request: &OutgoingRequest) -> Value {
    serde_json::json!({ "method": request.method, "url": request.url, "body": body_text(request) })
}

fn body_text(request: &OutgoingRequest) -> Value {
    match std::str::from_utf8(request.body.as_bytes()) {
        Ok(body) => text(body),
        Err(_) => Value::String(format!("({} bytes, not text)", request.body.as_bytes().len())),
    }
}

fn text(value: &str) -> Value {
    Value::String(cut(value))
}

fn shortened(value: &Value) -> Value {
    match value {
        Value::String(s) if s.chars().count() > MAX_TEXT_CHARS => text(s),
        other => other.clone(),
    }
}

fn cut(value: &str) -> String {
    match value.char_indices().nth(MAX_TEXT_CHARS) {
        Some((end, _)) => format!("{}… ({} more bytes)", &value[..end], value.len() - end),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Body;

    fn request(content_type: &str, body: &str) -> OutgoingRequest {
        OutgoingRequest {
            method: "POST",
            url: "https://crm.example/contacts".into(),
            headers: vec![("Content-Type".into(), content_type.into())],
            body: Body::Text(body.into()),
        }
    }

    fn paths(changes: &[Change]) -> Vec<(&str, ChangeKind)> {
        changes.iter().map(|c| (c.path.as_str(), c.kind)).collect()
    }

    #[test]
    fn a_renamed_json_field_is_one_removed_and_one_added_path() {
        let before = request("application/json", r#"{"properties":{"phone":"+34911","name":"Ana"}}"#);
        let after = request("application/json", r#"{"properties":{"phone_number":"+34911","name":"Ana"}}"#);
        let (changes, omitted) = request_changes(&[before], &[after]);
        assert_eq!(
            paths(&changes),
            [
                ("requests[0].body.properties.phone", ChangeKind::Removed),
                ("requests[0].body.properties.phone_number", ChangeKind::Added)
            ]
        );
        assert_eq!(changes[0].before, Some(Value::String("+34911".into())));
        assert_eq!(omitted, 0);
    }

    #[test]
    fn same_json_written_differently_is_no_change_and_arrays_compare_by_index() {
        let before = request("application/json", r#"{"a": 1, "b": [1, 2]}"#);
        let same = request("application/json; charset=utf-8", r#"{"b":[1,2],"a":1}"#);
        let (changes, _) = request_changes(std::slice::from_ref(&before), &[same]);
        assert_eq!(
            paths(&changes),
            [("requests[0].headers.content-type", ChangeKind::Changed)],
            "not the body"
        );
        let longer = request("application/json", r#"{"a": 1, "b": [1, 3, 4]}"#);
        let (changes, _) = request_changes(&[before], &[longer]);
        assert_eq!(
            paths(&changes),
            [("requests[0].body.b[1]", ChangeKind::Changed), ("requests[0].body.b[2]", ChangeKind::Added)]
        );
    }

    #[test]
    fn form_bodies_compare_by_key_and_odd_keys_are_quoted() {
        let before = request("application/x-www-form-urlencoded", "name=Ana&phone=%2B34911&x+y=1");
        let after = request("application/x-www-form-urlencoded", "phone=%2B34912&name=Ana&x+y=1");
        let (changes, _) = request_changes(&[before], &[after]);
        assert_eq!(paths(&changes), [("requests[0].body.phone", ChangeKind::Changed)]);
        assert_eq!(changes[0].after, Some(Value::String("+34912".into())));
        assert_eq!(child_path("body", "x y"), r#"body["x y"]"#);
    }

    #[test]
    fn method_url_headers_text_and_request_count_are_compared() {
        let before = request("text/plain", "Llamada perdida");
        let mut after = request("TEXT/PLAIN", "Llamada perdida de Ana");
        after.method = "PUT";
        after.url.push_str("?v=2");
        after.headers.push(("X-Version".into(), "2".into()));
        let (changes, _) = request_changes(std::slice::from_ref(&before), &[after, before.clone()]);
        assert_eq!(
            paths(&changes),
            [
                ("requests[0].method", ChangeKind::Changed),
                ("requests[0].url", ChangeKind::Changed),
                ("requests[0].headers.content-type", ChangeKind::Changed),
                ("requests[0].headers.x-version", ChangeKind::Added),
                ("requests[0].body", ChangeKind::Changed),
                ("requests[1]", ChangeKind::Added),
            ]
        );
    }

    #[test]
    fn changes_beyond_the_cap_are_counted_not_kept() {
        let fields = |prefix: &str| {
            let map: serde_json::Map<String, Value> =
                (0..80).map(|i| (format!("f{i}"), Value::String(format!("{prefix}{i}")))).collect();
            Value::Object(map).to_string()
        };
        let (changes, omitted) = request_changes(
            &[request("application/json", &fields("a"))],
            &[request("application/json", &fields("b"))],
        );
        assert_eq!((changes.len(), omitted), (MAX_CHANGES_PER_EVENT, 80 - MAX_CHANGES_PER_EVENT));
        assert_eq!(cut(&"é".repeat(1001)).chars().count(), 1000 + "… (2 more bytes)".chars().count());
    }
}
