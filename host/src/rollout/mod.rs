//! Safe rollout of a plugin version: a dry run of a candidate over a subscription's past events, with what
//! would change (`dry_run`, `diff`, `report`), and a canary that sends a share of the live events to the
//! candidate and promotes it or rolls it back by its rules (`canary`, `lifecycle`, `watcher`).

pub mod canary;
pub mod diff;
pub mod dry_run;
pub mod lifecycle;
pub mod report;
pub mod watcher;

pub use canary::takes_candidate;
