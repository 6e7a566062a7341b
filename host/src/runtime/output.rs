//! What a plugin returned, checked before anything is delivered: the count and size limits, absolute
//! `http(s)` URLs, and header names and values that are valid on the wire.

use serde::Serialize;

use super::bindings::wit;
use super::{InvokeError, Limits};

/// A request a plugin produced, with its URL resolved (the subscription's endpoint when the plugin set
/// none). Serialises as the command line prints it: `body` as text, or `body_base64` when not UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutgoingRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    #[serde(flatten)]
    pub body: Body,
}

/// A request body, as text when it is UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Body {
    #[serde(rename = "body")]
    Text(String),
    #[serde(rename = "body_base64", serialize_with = "as_base64")]
    Binary(Vec<u8>),
}

impl Body {
    pub fn from_bytes(bytes: Vec<u8>) -> Body {
        match String::from_utf8(bytes) {
            Ok(text) => Body::Text(text),
            Err(error) => Body::Binary(error.into_bytes()),
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Body::Text(text) => text.as_bytes(),
            Body::Binary(bytes) => bytes,
        }
    }
}

fn as_base64<S: serde::Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    use base64::Engine;
    serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Checks the plugin's requests against `limits` and resolves their URLs against `endpoint_url`.
pub(crate) fn check(
    requests: Vec<wit::Request>,
    endpoint_url: &str,
    limits: &Limits,
) -> Result<Vec<OutgoingRequest>, InvokeError> {
    if requests.len() > limits.max_requests {
        return Err(InvokeError::OutputTooLarge(format!(
            "the plugin produced {} requests for one event; the limit is {} (limits.max_requests)",
            requests.len(),
            limits.max_requests
        )));
    }
    check_bytes(&requests, "one event", limits)?;
    requests.into_iter().enumerate().map(|(index, request)| resolve(index, request, endpoint_url)).collect()
}

/// Refuses requests whose URLs, headers and bodies add up to more than `limits.max_output_bytes`; `what`
/// names what they were made for (`one event`).
pub(crate) fn check_bytes(requests: &[wit::Request], what: &str, limits: &Limits) -> Result<(), InvokeError> {
    let total_bytes: usize = requests
        .iter()
        .map(|r| {
            r.body.len()
                + r.url.as_ref().map_or(0, String::len)
                + r.headers.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>()
        })
        .sum();
    if total_bytes > limits.max_output_bytes {
        return Err(InvokeError::OutputTooLarge(format!(
            "the plugin produced {total_bytes} bytes of requests for {what}; the limit is {} bytes \
             (limits.max_output_bytes)",
            limits.max_output_bytes
        )));
    }
    Ok(())
}

/// Checks one request (the `index`th the plugin returned) and resolves its URL against `endpoint_url`.
pub(crate) fn resolve(
    index: usize,
    request: wit::Request,
    endpoint_url: &str,
) -> Result<OutgoingRequest, InvokeError> {
    let invalid = |what: String| InvokeError::InvalidOutput(format!("request {index}: {what}"));
    let url = request.url.unwrap_or_else(|| endpoint_url.to_owned());
    match url::Url::parse(&url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => {}
        Ok(_) => return Err(invalid(format!("URL `{url}` is not an absolute http(s) URL"))),
        Err(error) => return Err(invalid(format!("URL `{url}` is invalid: {error}"))),
    }
    for (name, value) in &request.headers {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(invalid(format!("header name `{name}` is not a valid HTTP header name")));
        }
        if http::HeaderValue::from_str(value).is_err() {
            return Err(invalid(format!(
                "header `{name}` has a value that is not valid in HTTP (control characters?)"
            )));
        }
    }
    let method = match request.method {
        wit::Method::Get => "GET",
        wit::Method::Head => "HEAD",
        wit::Method::Post => "POST",
        wit::Method::Put => "PUT",
        wit::Method::Patch => "PATCH",
        wit::Method::Delete => "DELETE",
    };
    Ok(OutgoingRequest { method, url, headers: request.headers, body: Body::from_bytes(request.body) })
}

/// A request as the plugin would have returned it: the other way from [`resolve`] (its URL stays the
/// resolved one).
pub(crate) fn to_wit(request: &OutgoingRequest) -> wit::Request {
    let method = match request.method {
        "GET" => wit::Method::Get,
        "HEAD" => wit::Method::Head,
        "PUT" => wit::Method::Put,
        "PATCH" => wit::Method::Patch,
        "DELETE" => wit::Method::Delete,
        _ => wit::Method::Post,
    };
    wit::Request {
        method,
        url: Some(request.url.clone()),
        headers: request.headers.clone(),
        body: request.body.as_bytes().to_vec(),
    }
}
