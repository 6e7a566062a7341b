//! Merging requests that wait for one destination into fewer, for destinations that take many records in
//! one request (a spreadsheet append of many rows, a CRM's batch upsert) and ration their requests.
//!
//! Gancho asks only when requests queue up behind a destination's budget: it gives the plugin's `merge`
//! the waiting requests (all made by this plugin's `transform` for one subscription, in delivery order,
//! their URLs resolved) and delivers what it returns instead. The answer says which requests each merged
//! request carries, by index: every index exactly once, ascending within a merged request, and merged
//! requests in the order of their first index. [`merge_by`] keeps those rules for you:
//!
//! ```
//! use gancho_sdk::{BatchLimits, Merged, PluginError, Request, Subscription, merge_by};
//!
//! /// Requests to the same URL become one whose body is a JSON array of theirs.
//! fn merge(requests: Vec<Request>, _: Subscription) -> Result<Vec<Merged>, PluginError> {
//!     let limits = BatchLimits { max_requests: 100, max_body_bytes: 1 << 20 };
//!     merge_by(requests, limits, |request| request.url.clone(), |_url, batch| {
//!         let bodies: Vec<serde_json::Value> = batch.iter().map(|r| r.body_json().unwrap()).collect();
//!         Ok(Request::json(&bodies)?.url(batch[0].url.clone().unwrap()))
//!     })
//! }
//!
//! // gancho_sdk::plugin!(transform, merge = merge);
//! let requests = vec![
//!     Request::json(&1)?.url("https://a.example/x"),
//!     Request::json(&2)?.url("https://b.example/y"),
//!     Request::json(&3)?.url("https://a.example/x"),
//! ];
//! let merged = gancho_sdk::testing::merge(merge, requests, "{}")?;
//! assert_eq!(merged[0].carries, [0, 2]);
//! assert_eq!(merged[0].request.body_text(), "[1,3]");
//! assert_eq!(merged[1].carries, [1]);
//! # Ok::<(), PluginError>(())
//! ```

use crate::{PluginError, Request, Subscription};

/// The type of a plugin's merge, as [`plugin!`](crate::plugin)'s `merge = …` takes it: the waiting
/// requests and the subscription (configuration typed `C`, as `transform` gets it) in, what to deliver out.
pub type MergeFn<C> = fn(Vec<Request>, Subscription<C>) -> Result<Vec<Merged>, PluginError>;

/// One request to deliver in place of the requests it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    pub request: Request,
    /// Indexes into the requests `merge` was given, ascending.
    pub carries: Vec<usize>,
}

impl Merged {
    /// The request at `index`, delivered as it was.
    pub fn alone(index: usize, request: Request) -> Merged {
        Merged { request, carries: vec![index] }
    }
}

/// How much one merged request may carry: what the destination accepts in one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Most requests one merged request carries (a batch endpoint's record limit).
    pub max_requests: usize,
    /// Most bytes of the carried requests' bodies added up (a payload size limit, with room for what
    /// merging adds).
    pub max_body_bytes: usize,
}

/// Merges `requests` that share a key: requests whose `key` is equal are merged by `combine` into one,
/// in batches within `limits`; a request whose key is `None`, or that is the only one with its key, is
/// delivered as it was. `combine` gets the key and the requests of one batch (at least two, in order).
///
/// Requests of one key keep their order (each batch carries them ascending, and a later batch carries
/// later ones); requests of different keys may be delivered in another order than they came, since a
/// batch goes at its first request's place (so merge only what the destination applies independently of
/// other keys: appends to different sheets, upserts of different contacts' batches).
pub fn merge_by<K: PartialEq>(
    requests: Vec<Request>,
    limits: BatchLimits,
    key: impl Fn(&Request) -> Option<K>,
    mut combine: impl FnMut(&K, Vec<Request>) -> Result<Request, PluginError>,
) -> Result<Vec<Merged>, PluginError> {
    let max_requests = limits.max_requests.max(1);
    // Batches in the order of their first index. Only the latest batch of a key takes more requests: the
    // earlier ones were full when it began.
    struct Batch<K> {
        key: Option<K>,
        carries: Vec<usize>,
        body_bytes: usize,
    }
    let mut batches: Vec<Batch<K>> = Vec::new();
    for (index, request) in requests.iter().enumerate() {
        let request_key = key(request);
        let bytes = request.body.len();
        let latest = match &request_key {
            Some(_) => batches.iter().rposition(|batch| batch.key == request_key),
            None => None,
        };
        match latest.map(|position| &mut batches[position]) {
            Some(batch)
                if batch.carries.len() < max_requests
                    && batch.body_bytes + bytes <= limits.max_body_bytes =>
            {
                batch.carries.push(index);
                batch.body_bytes += bytes;
            }
            _ => batches.push(Batch { key: request_key, carries: vec![index], body_bytes: bytes }),
        }
    }
    let mut requests: Vec<Option<Request>> = requests.into_iter().map(Some).collect();
    let mut take = |index: usize| requests[index].take().expect("each index is in one batch");
    batches
        .into_iter()
        .map(|batch| match (&batch.key, batch.carries.as_slice()) {
            (Some(key), [_, _, ..]) => {
                let carried = batch.carries.iter().map(|&index| take(index)).collect();
                Ok(Merged { request: combine(key, carried)?, carries: batch.carries })
            }
            _ => Ok(Merged::alone(batch.carries[0], take(batch.carries[0]))),
        })
        .collect()
}

/// Why an answer of `merge` to `given` requests breaks the contract, as Gancho would refuse it; `None`
/// when it keeps it.
pub(crate) fn contract_broken(answer: &[Merged], given: usize) -> Option<String> {
    let mut carried = vec![false; given];
    let mut previous_first = None;
    for (position, merged) in answer.iter().enumerate() {
        let Some(&first) = merged.carries.first() else {
            return Some(format!("merged request {position} carries no request"));
        };
        if previous_first.is_some_and(|previous| first < previous) {
            return Some(format!("merged request {position} starts before the one before it"));
        }
        previous_first = Some(first);
        if !merged.carries.windows(2).all(|pair| pair[0] < pair[1]) {
            return Some(format!("merged request {position} carries indexes that are not ascending"));
        }
        for &index in &merged.carries {
            match carried.get_mut(index) {
                None => return Some(format!("index {index} is beyond the {given} requests given")),
                Some(true) => return Some(format!("index {index} is carried twice")),
                Some(seen) => *seen = true,
            }
        }
    }
    carried.iter().position(|seen| !seen).map(|index| format!("index {index} is carried by no request"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to(url: &str, body: &str) -> Request {
        Request::text(body).url(url)
    }

    fn joined(_: &String, batch: Vec<Request>) -> Result<Request, PluginError> {
        let bodies: Vec<String> = batch.iter().map(|r| r.body_text().into_owned()).collect();
        Ok(Request::text(bodies.join(",")).url(batch[0].url.clone().unwrap()))
    }

    const ROOMY: BatchLimits = BatchLimits { max_requests: 100, max_body_bytes: 1 << 20 };

    #[test]
    fn requests_with_the_same_key_merge_in_order_and_others_stay_alone() {
        let requests = vec![to("a", "1"), to("b", "2"), to("a", "3"), to("c", "4"), to("a", "5")];
        let merged = merge_by(requests, ROOMY, |r| r.url.clone(), joined).unwrap();
        let shape: Vec<(&[usize], String)> =
            merged.iter().map(|m| (m.carries.as_slice(), m.request.body_text().into_owned())).collect();
        assert_eq!(shape, [(&[0, 2, 4][..], "1,3,5".into()), (&[1][..], "2".into()), (&[3][..], "4".into())]);
        assert_eq!(contract_broken(&merged, 5), None);
    }

    #[test]
    fn a_batch_is_cut_at_the_request_and_byte_limits() {
        let requests: Vec<Request> = (0..7).map(|i| to("a", &i.to_string())).collect();
        let limits = BatchLimits { max_requests: 3, max_body_bytes: 1 << 20 };
        let merged = merge_by(requests.clone(), limits, |r| r.url.clone(), joined).unwrap();
        let carries: Vec<&[usize]> = merged.iter().map(|m| m.carries.as_slice()).collect();
        assert_eq!(carries, [&[0, 1, 2][..], &[3, 4, 5], &[6]]);
        assert_eq!(merged[2].request, requests[6], "a lone request goes as it was");

        let limits = BatchLimits { max_requests: 100, max_body_bytes: 2 };
        let merged = merge_by(requests, limits, |r| r.url.clone(), joined).unwrap();
        let carries: Vec<&[usize]> = merged.iter().map(|m| m.carries.as_slice()).collect();
        assert_eq!(carries, [&[0, 1][..], &[2, 3], &[4, 5], &[6]]);
    }

    #[test]
    fn requests_without_a_key_are_never_merged() {
        let requests = vec![to("a", "1"), to("a", "2")];
        let merged = merge_by(requests, ROOMY, |_| None::<String>, joined).unwrap();
        assert_eq!(merged.len(), 2);
        assert_eq!(contract_broken(&merged, 2), None);
    }

    #[test]
    fn broken_answers_are_named() {
        let alone = |i: usize| Merged::alone(i, Request::new());
        let both = Merged { request: Request::new(), carries: vec![0, 1] };
        assert_eq!(contract_broken(&[alone(0)], 2).unwrap(), "index 1 is carried by no request");
        assert_eq!(contract_broken(&[both.clone(), alone(1)], 2).unwrap(), "index 1 is carried twice");
        assert!(contract_broken(&[alone(1), alone(0)], 2).unwrap().contains("starts before"));
        let backwards = Merged { request: Request::new(), carries: vec![1, 0] };
        assert!(contract_broken(&[backwards], 2).unwrap().contains("not ascending"));
        assert_eq!(contract_broken(&[both], 2), None);
    }
}
