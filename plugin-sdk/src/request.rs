//! Requests a plugin asks Gancho to deliver, and builders for the body encodings destinations expect:
//! JSON, `application/x-www-form-urlencoded` and plain text.

use serde::Serialize;

use crate::PluginError;

/// HTTP method of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Method {
    Get,
    Head,
    #[default]
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    /// The method's name as on the wire (`POST`).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// Parses a method name, in any case (`get`, `POST`).
    pub fn parse(name: &str) -> Option<Method> {
        Some(match name.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            _ => return None,
        })
    }
}

/// One HTTP request for Gancho to sign and deliver.
///
/// ```
/// use gancho_sdk::{Method, Request};
/// let request = Request::json(&serde_json::json!({"text": "Missed call"}))?
///     .method(Method::Put)
///     .url("https://hooks.example/abc")
///     .header("x-api-version", "2");
/// assert_eq!(request.body, br#"{"text":"Missed call"}"#);
/// # Ok::<(), gancho_sdk::PluginError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    pub method: Method,
    /// Absolute URL; `None` sends to the subscription's endpoint URL.
    pub url: Option<String>,
    /// Header names and values, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// A `POST` to the subscription's endpoint with no body and no headers.
    pub fn new() -> Request {
        Request::default()
    }

    /// A `POST` with `body` serialised as JSON and `content-type: application/json`.
    pub fn json<T: Serialize + ?Sized>(body: &T) -> Result<Request, PluginError> {
        let body = serde_json::to_vec(body)
            .map_err(|e| PluginError::permanent(format!("cannot encode the body as JSON: {e}")))?;
        Ok(Request::new().header("content-type", "application/json").body(body))
    }

    /// A `POST` with `fields` encoded as `application/x-www-form-urlencoded` (spaces as `+`, a literal `+`
    /// as `%2B`, UTF-8 percent-encoded).
    pub fn form<K: AsRef<str>, V: AsRef<str>>(fields: impl IntoIterator<Item = (K, V)>) -> Request {
        let mut encoded = form_urlencoded::Serializer::new(String::new());
        for (key, value) in fields {
            encoded.append_pair(key.as_ref(), value.as_ref());
        }
        Request::new().header("content-type", "application/x-www-form-urlencoded").body(encoded.finish())
    }

    /// A `POST` with a UTF-8 plain-text body.
    pub fn text(body: impl Into<String>) -> Request {
        Request::new().header("content-type", "text/plain; charset=utf-8").body(body.into())
    }

    /// Sets the method.
    pub fn method(mut self, method: Method) -> Request {
        self.method = method;
        self
    }

    /// Sends to `url` instead of the subscription's endpoint.
    pub fn url(mut self, url: impl Into<String>) -> Request {
        self.url = Some(url.into());
        self
    }

    /// Adds a header, or replaces the value of one with the same name (case-insensitive).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        let (name, value) = (name.into(), value.into());
        match self.headers.iter_mut().find(|(existing, _)| existing.eq_ignore_ascii_case(&name)) {
            Some(header) => header.1 = value,
            None => self.headers.push((name, value)),
        }
        self
    }

    /// Sets the body bytes.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// The value of a header, by case-insensitive name.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(existing, _)| existing.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as UTF-8 text (lossy), for tests and logs.
    pub fn body_text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// The body parsed as JSON, for tests.
    pub fn body_json(&self) -> serde_json::Result<serde_json::Value> {
        serde_json::from_slice(&self.body)
    }
}

/// Percent-encodes `value` for use inside a URL's path segment or query (everything but unreserved
/// characters `A-Z a-z 0-9 - . _ ~` is encoded, so `+`, `&`, `=`, `/` and spaces are safe).
pub fn percent_encode(value: &str) -> String {
    const UNRESERVED: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    percent_encoding::utf8_percent_encode(value, UNRESERVED).to_string()
}

/// Encodes `value` as one value of an `application/x-www-form-urlencoded` body or query: spaces as `+`, a
/// literal `+` as `%2B`, everything but `A-Z a-z 0-9 * - . _` percent-encoded as UTF-8.
pub fn form_encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_encode_plus_space_and_utf8() {
        let request = Request::form([("from", "+54 911"), ("name", "Lucía & co")]);
        assert_eq!(request.body_text(), "from=%2B54+911&name=Luc%C3%ADa+%26+co");
        assert_eq!(request.header_value("Content-Type"), Some("application/x-www-form-urlencoded"));
    }

    #[test]
    fn header_replaces_same_name_case_insensitively() {
        let request = Request::text("hi").header("Content-Type", "text/csv");
        assert_eq!(request.headers, vec![("content-type".to_owned(), "text/csv".to_owned())]);
    }

    #[test]
    fn percent_encode_leaves_only_unreserved() {
        assert_eq!(percent_encode("+54 9/ñ&x=1"), "%2B54%209%2F%C3%B1%26x%3D1");
    }

    #[test]
    fn form_encode_uses_plus_for_space() {
        assert_eq!(form_encode("+54 9 11 & ñ"), "%2B54+9+11+%26+%C3%B1");
    }

    #[test]
    fn methods_parse_in_any_case() {
        assert_eq!(Method::parse("get"), Some(Method::Get));
        assert_eq!(Method::parse("TRACE"), None);
    }
}
