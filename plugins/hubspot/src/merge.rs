//! Merging requests that wait for HubSpot's rate limit (100 requests per 10 s for a private app on Free
//! or Starter, 190 on Professional or Enterprise): contact upserts become one batch upsert, and creates of
//! one engagement type (calls, notes, communications) one batch create, each of at most
//! [`MAX_RECORDS`] records, HubSpot's limit for both endpoints.
//!
//! A batch upsert may not name one contact twice (HubSpot refuses the whole batch), so upserts of the same
//! contact become one input whose properties are theirs in order, a later value replacing an earlier one,
//! as the upserts one after the other would have left the contact. Upserts keyed by email and by the phone
//! property go in separate batches, so that every input of a batch finds its contact the same way.

use gancho_sdk::{BatchLimits, Merged, Method, PluginError, Request, Subscription, merge_by};
use serde_json::{Value, json};

use crate::Config;

/// Most records in one batch upsert or batch create.
pub const MAX_RECORDS: usize = 100;
/// Most bytes of the carried requests' bodies in one batch: notes carry transcripts of up to 64 KiB each,
/// and a batch stays well inside what Gancho lets one answer be (4 MiB by default).
pub const MAX_BODY_BYTES: usize = 2_000_000;

const UPSERT_PATH: &str = "/crm/v3/objects/contacts/batch/upsert";
const ENGAGEMENTS: &[&str] = &["calls", "notes", "communications"];

/// What a request does, as far as merging goes: both carry the URL they were sent to.
#[derive(Debug, PartialEq)]
enum Mergeable {
    /// `POST …/contacts/batch/upsert` with `inputs` keyed by the `idProperty` named second.
    Upsert(String, String),
    /// `POST …/objects/<engagement>` with one record.
    Create(String),
}

/// Contact upserts become batch upserts, engagement creates batch creates; anything else goes as it was.
pub fn merge(
    requests: Vec<Request>,
    _subscription: Subscription<Config>,
) -> Result<Vec<Merged>, PluginError> {
    let limits = BatchLimits { max_requests: MAX_RECORDS, max_body_bytes: MAX_BODY_BYTES };
    merge_by(requests, limits, mergeable, |kind, batch| {
        let bodies = batch.iter().map(|request| {
            request.body_json().map_err(|e| PluginError::permanent(format!("HubSpot request body: {e}")))
        });
        let bodies: Vec<Value> = bodies.collect::<Result<_, _>>()?;
        let (url, inputs) = match kind {
            Mergeable::Upsert(url, _) => (url.clone(), upsert_inputs(bodies)),
            Mergeable::Create(url) => (format!("{url}/batch/create"), bodies),
        };
        Ok(Request::json(&json!({ "inputs": inputs }))?.url(url))
    })
}

fn mergeable(request: &Request) -> Option<Mergeable> {
    let url = request.url.as_deref().filter(|_| request.method == Method::Post)?;
    if url.ends_with(UPSERT_PATH) {
        let body = request.body_json().ok()?;
        let id_property = body["inputs"][0]["idProperty"].as_str()?;
        return Some(Mergeable::Upsert(url.to_owned(), id_property.to_owned()));
    }
    let (base, object) = url.rsplit_once('/')?;
    (base.ends_with("/crm/v3/objects") && ENGAGEMENTS.contains(&object))
        .then(|| Mergeable::Create(url.to_owned()))
}

/// The upserts' inputs, one per contact (`idProperty` and `id`), in the order each contact first came,
/// with every property its upserts set, the last value winning.
fn upsert_inputs(bodies: Vec<Value>) -> Vec<Value> {
    let mut inputs: Vec<Value> = Vec::new();
    for input in bodies.into_iter().flat_map(|mut body| match body["inputs"].take() {
        Value::Array(inputs) => inputs,
        _ => vec![],
    }) {
        let same =
            |other: &&mut Value| other["idProperty"] == input["idProperty"] && other["id"] == input["id"];
        match inputs.iter_mut().find(same) {
            Some(existing) => {
                let properties = input["properties"].as_object().cloned().unwrap_or_default();
                if let Some(merged) = existing["properties"].as_object_mut() {
                    merged.extend(properties);
                }
            }
            None => inputs.push(input),
        }
    }
    inputs
}

#[cfg(test)]
mod tests {
    use super::*;
    use gancho_sdk::testing::{self, samples};

    const CONFIG: &str = r#"{"phone_id_property": "gancho_phone"}"#;
    const UPSERT: &str = "https://api.hubapi.com/crm/v3/objects/contacts/batch/upsert";

    fn requests(events: &[&str]) -> Vec<Request> {
        events.iter().flat_map(|event| testing::run(crate::transform, event, CONFIG).unwrap()).collect()
    }

    fn upsert(email: &str, properties: Value) -> Request {
        let body = json!({"inputs": [{"idProperty": "email", "id": email, "properties": properties}]});
        Request::json(&body).unwrap().url(UPSERT)
    }

    #[test]
    fn upserts_become_a_batch_upsert_and_engagements_a_batch_create_per_type() {
        // Each call is a caller upsert (by phone) then a call; the chat a contact upsert (by email) then a note.
        let requests = requests(&[samples::CALL_ENDED, samples::CHAT_CLOSED, samples::CALL_ENDED_MISSED]);
        let urls: Vec<&str> = requests.iter().map(|r| r.url.as_deref().unwrap()).collect();
        assert_eq!(urls.len(), 6, "{urls:?}");
        let merged = testing::merge(merge, requests.clone(), CONFIG).unwrap();
        let shape: Vec<(&str, &[usize])> =
            merged.iter().map(|m| (m.request.url.as_deref().unwrap(), m.carries.as_slice())).collect();
        assert_eq!(
            shape,
            [
                (UPSERT, &[0, 4][..]),
                ("https://api.hubapi.com/crm/v3/objects/calls/batch/create", &[1, 5]),
                (UPSERT, &[2]),
                (urls[3], &[3]),
            ]
        );
        // Both calls are from the same caller: one input for them.
        let caller = requests[0].body_json().unwrap()["inputs"][0].clone();
        assert_eq!(requests[4].body_json().unwrap()["inputs"][0], caller);
        assert_eq!(merged[0].request.body_json().unwrap(), json!({"inputs": [caller]}));
        let calls = merged[1].request.body_json().unwrap();
        assert_eq!(calls["inputs"][0], requests[1].body_json().unwrap());
        assert_eq!(calls["inputs"][1], requests[5].body_json().unwrap());
        assert_eq!(merged[2].request, requests[2], "a lone upsert by email goes as it was");
        assert_eq!(merged[3].request, requests[3], "a lone note goes as it was");
    }

    #[test]
    fn upserts_of_one_contact_become_one_input_the_last_value_winning() {
        let requests = vec![
            upsert("ana@example.com", json!({"firstname": "Ana", "city": "Rosario"})),
            upsert("juan@example.com", json!({"firstname": "Juan"})),
            upsert("ana@example.com", json!({"city": "Córdoba", "lastname": "Gómez"})),
        ];
        let merged = testing::merge(merge, requests, CONFIG).unwrap();
        assert_eq!(merged.len(), 1);
        assert_eq!(
            merged[0].request.body_json().unwrap(),
            json!({"inputs": [
                {"idProperty": "email", "id": "ana@example.com",
                 "properties": {"firstname": "Ana", "city": "Córdoba", "lastname": "Gómez"}},
                {"idProperty": "email", "id": "juan@example.com", "properties": {"firstname": "Juan"}},
            ]})
        );
    }

    #[test]
    fn a_batch_holds_at_most_100_records() {
        let requests: Vec<Request> =
            (0..250).map(|i| upsert(&format!("c{i}@example.com"), json!({"firstname": "C"}))).collect();
        let merged = testing::merge(merge, requests, CONFIG).unwrap();
        let sizes: Vec<usize> = merged.iter().map(|m| m.carries.len()).collect();
        assert_eq!(sizes, [100, 100, 50]);
        assert_eq!(merged[2].request.body_json().unwrap()["inputs"].as_array().unwrap().len(), 50);
    }
}
