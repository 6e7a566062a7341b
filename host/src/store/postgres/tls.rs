//! TLS for PostgreSQL connections, chosen by the URL's `sslmode` and `sslrootcert` (libpq's names; read
//! here, since the driver itself knows only `disable`, `prefer` and `require`). `require`, `verify-ca` and
//! `verify-full` connect over TLS and verify the server's certificate and name against the Mozilla roots
//! plus the certificates in `sslrootcert`; without `sslmode` (or with `disable`/`allow`/`prefer`) the
//! connection is plain, as on a local socket or a private network.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::{StoreError, StoreResult};

/// A URL for the driver, and the TLS connector it asks for (`None`: plain).
pub(super) struct TlsChoice {
    pub url: String,
    pub tls: Option<MakeRustlsConnect>,
}

/// Reads `sslmode` and `sslrootcert` off a `postgres://` URL. Other forms (`host=… dbname=…`) go to the
/// driver unchanged, plain.
pub(super) fn choose(url: &str) -> StoreResult<TlsChoice> {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return Ok(TlsChoice { url: url.to_owned(), tls: None });
    };
    let mut mode = None;
    let mut root_file = None;
    let mut kept = Vec::new();
    for (key, value) in parsed.query_pairs() {
        match &*key {
            "sslmode" => mode = Some(value.into_owned()),
            "sslrootcert" => root_file = Some(value.into_owned()),
            _ => kept.push((key.into_owned(), value.into_owned())),
        }
    }
    let verified = match mode.as_deref() {
        None | Some("disable" | "allow" | "prefer") => false,
        Some("require" | "verify-ca" | "verify-full") => true,
        Some(other) => {
            return Err(StoreError::Database(format!(
                "database_url: sslmode `{other}` is not one of disable, prefer, require, verify-ca, verify-full"
            )));
        }
    };
    if !verified && root_file.is_some() {
        return Err(StoreError::Database(
            "database_url: sslrootcert needs sslmode=require, verify-ca or verify-full".to_owned(),
        ));
    }
    kept.push(("sslmode".to_owned(), if verified { "require" } else { "disable" }.to_owned()));
    parsed.query_pairs_mut().clear().extend_pairs(kept);
    let tls = if verified { Some(connector(root_file.as_deref())?) } else { None };
    Ok(TlsChoice { url: parsed.to_string(), tls })
}

/// A connector that verifies the server against the Mozilla roots and the certificates in `root_file`.
fn connector(root_file: Option<&str>) -> StoreResult<MakeRustlsConnect> {
    let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(path) = root_file {
        let failed =
            |problem: String| StoreError::Database(format!("database_url: sslrootcert `{path}`: {problem}"));
        let certificates = CertificateDer::pem_file_iter(path)
            .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
            .map_err(|error| failed(format!("cannot read PEM certificates: {error}")))?;
        if certificates.is_empty() {
            return Err(failed("holds no PEM certificate".to_owned()));
        }
        for certificate in certificates {
            roots
                .add(certificate)
                .map_err(|error| failed(format!("not a usable CA certificate: {error}")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| StoreError::Database(format!("cannot set up TLS: {error}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_sslmode_the_connection_is_plain() {
        let choice = choose("postgres://app@db:5432/gancho?application_name=x").unwrap();
        assert!(choice.tls.is_none());
        assert_eq!(choice.url, "postgres://app@db:5432/gancho?application_name=x&sslmode=disable");
    }

    #[test]
    fn verified_modes_use_tls_and_the_driver_sees_require() {
        for mode in ["require", "verify-ca", "verify-full"] {
            let choice = choose(&format!("postgres://app@db/gancho?sslmode={mode}")).unwrap();
            assert!(choice.tls.is_some(), "{mode}");
            assert_eq!(choice.url, "postgres://app@db/gancho?sslmode=require");
        }
    }

    #[test]
    fn bad_settings_are_named() {
        let error = choose("postgres://db/gancho?sslmode=always").err().unwrap().to_string();
        assert!(error.contains("sslmode `always`"), "{error}");
        let error = choose("postgres://db/gancho?sslrootcert=/ca.pem").err().unwrap().to_string();
        assert!(error.contains("sslrootcert needs sslmode"), "{error}");
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("ca.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        for file in [empty.display().to_string(), "/nonexistent/ca.pem".to_owned()] {
            let url = format!("postgres://db/gancho?sslmode=verify-full&sslrootcert={file}");
            let error = choose(&url).err().unwrap().to_string();
            assert!(error.contains(&format!("sslrootcert `{file}`")), "{error}");
        }
    }
}
