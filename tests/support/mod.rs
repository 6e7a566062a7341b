//! Shared by the end-to-end tests: the real plugins built for wasm32-wasip2, and a real service and
//! receiver.
#![allow(dead_code)]

pub mod browser;
pub mod database;
mod guests;
pub mod oauth;
mod plugins;
pub mod service;
pub mod smtp;

#[allow(unused_imports)] // only some tests build plugins in other languages
pub use guests::*;
pub use plugins::*;
