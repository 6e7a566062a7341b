//! # Gancho
//!
//! A WebAssembly plugin host for webhook payload transformation: events come in, each subscription's
//! plugin maps them in a sandbox, and the requests it produced go out.
//!
//! ## Layout
//! - [`runtime`]: the wasmtime engine, plugin loading and precompile cache, limits, one invocation.
//! - [`event`]: the event envelope the platform posts, and its validation.
//! - [`cli`]: the `gancho` command line (`plugin check`, `plugin run`).

pub mod cli;
pub mod event;
pub mod runtime;
