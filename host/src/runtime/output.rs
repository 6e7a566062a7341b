//! What a plugin returned, checked before anything is delivered: the count and size limits, absolute
//! `http(s)` URLs, header names and values that are valid on the wire, and none of the headers the HTTP
//! client states itself.

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

/// Headers a plugin's request never carries: `host` and the body's framing are stated by the HTTP client from
/// the URL and the body, and hop-by-hop headers (RFC 9110 §7.6.1) would change the connection, not the
/// request. A `Host` of the plugin's choosing above all: the destination guard and `allowed_hosts` judge the
/// URL, and a shared front end would route by the header to another virtual host. They are dropped, as a
/// browser's `fetch` drops them, so a plugin that sets one still delivers.
pub const HEADERS_NOT_FROM_PLUGINS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
];

/// Whether a header is one of [`HEADERS_NOT_FROM_PLUGINS`] (names are case-insensitive).
pub fn is_header_not_from_plugins(name: &str) -> bool {
    HEADERS_NOT_FROM_PLUGINS.iter().any(|reserved| name.eq_ignore_ascii_case(reserved))
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
    let mut headers = request.headers;
    headers.retain(|(name, _)| !is_header_not_from_plugins(name));
    Ok(OutgoingRequest { method, url, headers, body: Body::from_bytes(request.body) })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> wit::Request {
        wit::Request {
            method: wit::Method::Post,
            url: None,
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: b"{}".to_vec(),
        }
    }

    #[test]
    fn host_and_hop_by_hop_headers_are_dropped() {
        let sent = request(&[
            ("Host", "internal-admin.example"),
            ("content-type", "application/json"),
            ("Connection", "upgrade"),
            ("Upgrade", "websocket"),
            ("TE", "trailers"),
            ("Transfer-Encoding", "chunked"),
            ("Content-Length", "99"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Authorization", "Basic eDp5"),
            ("x-api-version", "2"),
        ]);
        let checked = check(vec![sent], "https://hooks.example/in", &Limits::default()).unwrap();
        let names: Vec<&str> = checked[0].headers.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["content-type", "x-api-version"]);
        assert_eq!(checked[0].url, "https://hooks.example/in");
    }
}
