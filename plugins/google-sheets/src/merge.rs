//! Merging appends that wait for the Sheets API's quota (60 write requests a minute per user): appends
//! to the same spreadsheet and range (the same URL, so also the same `valueInputOption`) become one
//! `values.append` whose rows are theirs, in order. Google advises payloads of at most 2 MB; a merged
//! append carries at most [`MAX_ROWS`] rows and [`MAX_BODY_BYTES`] of the rows' requests.

use gancho_sdk::{BatchLimits, Merged, Method, PluginError, Request, Subscription, merge_by};
use serde_json::Value;

use crate::Config;

/// Most appends (rows) one merged append carries.
pub const MAX_ROWS: usize = 500;
/// Most bytes of the carried appends' bodies, leaving room under Google's 2 MB for the merged one.
pub const MAX_BODY_BYTES: usize = 1_800_000;

/// Appends with the same URL become one append of all their rows; anything else goes as it was.
pub fn merge(
    requests: Vec<Request>,
    _subscription: Subscription<Config>,
) -> Result<Vec<Merged>, PluginError> {
    let limits = BatchLimits { max_requests: MAX_ROWS, max_body_bytes: MAX_BODY_BYTES };
    merge_by(requests, limits, append_url, |_, appends| {
        let mut rows = Vec::new();
        for append in &appends {
            let body = append.body_json().map_err(|e| PluginError::permanent(format!("append body: {e}")))?;
            rows.extend(body["values"].as_array().into_iter().flatten().cloned());
        }
        let mut body = appends[0].body_json().map_err(|e| PluginError::permanent(e.to_string()))?;
        body["values"] = Value::Array(rows);
        let first = &appends[0];
        Ok(Request { body: serde_json::to_vec(&body).expect("JSON values serialise"), ..first.clone() })
    })
}

/// The URL of a `values.append` request whose body is rows (`majorDimension: ROWS`), its merge key.
fn append_url(request: &Request) -> Option<String> {
    let url = request.url.as_ref()?;
    let is_append = request.method == Method::Post && url.split('?').next()?.ends_with(":append");
    let body = request.body_json().ok()?;
    let rows = body["majorDimension"] == "ROWS" && body["values"].is_array();
    (is_append && rows).then(|| url.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gancho_sdk::testing::{self, samples};
    use serde_json::json;

    const CONFIG: &str = r#"{"spreadsheet_id": "sheet_123"}"#;

    /// The appends `transform` makes for `events` with `config`.
    fn appends(events: &[&str], config: &str) -> Vec<Request> {
        events.iter().flat_map(|event| testing::run(crate::transform, event, config).unwrap()).collect()
    }

    #[test]
    fn appends_to_one_sheet_become_one_append_of_their_rows_in_order() {
        let requests =
            appends(&[samples::CALL_ENDED, samples::CALL_ENDED_MISSED, samples::CALL_ENDED_MINIMAL], CONFIG);
        let merged = testing::merge(merge, requests.clone(), CONFIG).unwrap();
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].carries, [0, 1, 2]);
        let body = merged[0].request.body_json().unwrap();
        let rows: Vec<Value> = requests.iter().map(|r| r.body_json().unwrap()["values"][0].clone()).collect();
        assert_eq!(body, json!({"range": "Sheet1", "majorDimension": "ROWS", "values": rows}));
        assert_eq!(merged[0].request.url, requests[0].url);
        assert_eq!(merged[0].request.header_value("content-type"), Some("application/json"));
    }

    #[test]
    fn appends_to_other_ranges_are_merged_apart() {
        let calls = r#"{"spreadsheet_id": "sheet_123", "range": "Calls"}"#;
        let chats = r#"{"spreadsheet_id": "sheet_123", "range": "Chats"}"#;
        let mut requests = appends(&[samples::CALL_ENDED], calls);
        requests.extend(appends(&[samples::CHAT_CLOSED], chats));
        requests.extend(appends(&[samples::CALL_ENDED_MISSED], calls));
        let merged = testing::merge(merge, requests.clone(), CONFIG).unwrap();
        let carries: Vec<&[usize]> = merged.iter().map(|m| m.carries.as_slice()).collect();
        assert_eq!(carries, [&[0, 2][..], &[1]]);
        assert_eq!(merged[1].request, requests[1], "a lone append goes as it was");
    }

    #[test]
    fn at_most_500_rows_go_in_one_append() {
        let requests = vec![appends(&[samples::CALL_ENDED], CONFIG).remove(0); 1_201];
        let merged = testing::merge(merge, requests, CONFIG).unwrap();
        let sizes: Vec<usize> = merged.iter().map(|m| m.carries.len()).collect();
        assert_eq!(sizes, [500, 500, 201]);
        assert_eq!(merged[2].request.body_json().unwrap()["values"].as_array().unwrap().len(), 201);
    }

    #[test]
    fn long_rows_are_cut_into_appends_under_2_mb() {
        // A 400-message transcript fills a cell (50,000 characters, up to 150 KB of UTF-8).
        let long = samples::long_chat_closed(400);
        let requests = appends(&vec![long.as_str(); 40], CONFIG);
        let merged = testing::merge(merge, requests, CONFIG).unwrap();
        assert!(merged.len() > 1, "{} appends", merged.len());
        assert!(merged.iter().all(|m| m.request.body.len() < 2_000_000));
    }
}
