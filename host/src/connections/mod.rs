//! Connections: tenants' credentials for the services their deliveries call (CRMs, Google), sealed at rest,
//! and turned into the header a request needs just before it is sent, with OAuth access tokens obtained,
//! cached and refreshed here.
//!
//! - [`credential`]: what a connection holds, its validation, a `Debug` without secrets.
//! - [`seal`]: XChaCha20-Poly1305 sealing under configured, rotatable keys.
//! - [`tokens`]: the header for a credential; access tokens cached per connection, one refresh at a time.
//! - [`hosts`]: which hosts a credential, a subscription's headers or a plugin's request may go to.
//! - [`registry`]: connections as delivery uses them: opened, matched to a request's host, their uses
//!   (refreshes, failures, revocations, rotated refresh tokens) recorded.
//! - `endpoint`: the token endpoint requests (refresh-token, JWT-bearer and authorization-code grants)
//!   through the destination guard, and what their answers mean.
//! - [`oauth_apps`]: the operator's OAuth apps per provider, for the portal's *Connect* buttons.
//! - [`oauth_flow`]: the *Connect* flow's PKCE and single-use `state`, bound to the portal session.
//!
//! No secret (client secret, refresh or access token, private key, assertion) ever appears in an error or a
//! log line.

pub mod credential;
mod endpoint;
pub mod hosts;
pub mod oauth_apps;
pub mod oauth_flow;
pub mod registry;
pub mod seal;
pub mod tokens;

pub use credential::Credential;
pub use registry::{Credentials, Registry, associated_data};
pub use seal::{SealError, Sealed, Sealer};
pub use tokens::{Authorized, TokenService};

/// Why no access token could be had for a connection. The message names the connection and says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionError {
    /// The grant is revoked or invalid (`invalid_grant`, `invalid_client`, `unauthorized_client`, or an
    /// unusable key): the connection is broken until re-authorised; do not retry.
    #[error("{0}")]
    Revoked(String),
    /// The token endpoint failed otherwise (5xx, timeout, refused by the guard, bad answer): retry on the
    /// normal schedule.
    #[error("{0}")]
    Failed(String),
}
