//! Which hosts a credential, a subscription's headers or a plugin's request may go to: host patterns
//! (`api.hubapi.com`, `*.hubapi.com`), matching a URL's host against them, and whether two URLs share an
//! origin (scheme, host and port).

/// A host pattern as given (`API.HubAPI.com`, `*.example.com`), checked and lowercased, or why not.
pub fn normalize(pattern: &str) -> Result<String, String> {
    let lower = pattern.trim().to_ascii_lowercase();
    let name = lower.strip_prefix("*.").unwrap_or(&lower);
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
        });
    if valid {
        Ok(lower)
    } else {
        Err(format!(
            "`{pattern}` is not a host name: give one like `api.hubapi.com` or `*.hubapi.com` (no scheme, port or path)"
        ))
    }
}

/// Whether `host` (lowercase, from a URL) is one `pattern` names: the same name, or for `*.example.com`
/// any name under `example.com` (not `example.com` itself).
pub fn matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(domain) => {
            host.len() > domain.len() + 1 && host.ends_with(domain) && {
                let dot = host.len() - domain.len() - 1;
                host.as_bytes()[dot] == b'.'
            }
        }
        None => pattern == host,
    }
}

/// The lowercase host of an absolute URL (`None` if it has none).
pub fn host_of(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    url.host_str().map(|host| host.trim_end_matches('.').to_ascii_lowercase())
}

/// Whether two URLs have the same scheme, host and port (default ports counted).
pub fn same_origin(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_checked_and_lowercased() {
        assert_eq!(normalize(" API.HubAPI.com ").unwrap(), "api.hubapi.com");
        assert_eq!(normalize("*.googleapis.com").unwrap(), "*.googleapis.com");
        for bad in ["https://api.hubapi.com", "api.hubapi.com:443", "api.hubapi.com/v3", "", "*.", "a..b"] {
            assert!(normalize(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hosts_match_exactly_or_under_a_wildcard() {
        assert!(matches("api.hubapi.com", "api.hubapi.com"));
        assert!(!matches("api.hubapi.com", "evil-api.hubapi.com"));
        assert!(matches("*.hubapi.com", "api.hubapi.com"));
        assert!(!matches("*.hubapi.com", "hubapi.com"));
        assert!(!matches("*.hubapi.com", "evilhubapi.com"));
        assert_eq!(host_of("https://API.hubapi.com./crm/v3").as_deref(), Some("api.hubapi.com"));
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert!(same_origin("https://crm.example/hook", "https://crm.example:443/other?x=1"));
        assert!(!same_origin("https://crm.example/hook", "http://crm.example/hook"));
        assert!(!same_origin("https://crm.example/hook", "https://crm.example:8443/hook"));
        assert!(!same_origin("https://crm.example/hook", "https://hooks.slack.com/x"));
    }
}
