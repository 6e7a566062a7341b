//! # Gancho plugin SDK
//!
//! A Gancho plugin turns one event into the HTTP requests a destination expects. With this SDK you write
//! one typed function and register it with [`plugin!`]; you never see bindings or bytes:
//!
//! ```
//! use gancho_sdk::{Event, EventData, PluginError, Request, Subscription};
//!
//! #[derive(serde::Deserialize)]
//! struct Config {
//!     channel: String,
//! }
//!
//! fn transform(event: Event, subscription: Subscription<Config>) -> Result<Vec<Request>, PluginError> {
//!     match event.data()? {
//!         EventData::CallEnded(data) if data.call.is_missed() => Ok(vec![Request::json(&serde_json::json!({
//!             "channel": subscription.config.channel,
//!             "text": format!("Missed call from {}", data.call.from.as_deref().unwrap_or("unknown")),
//!         }))?]),
//!         _ => Ok(vec![]), // nothing to send for other events
//!     }
//! }
//!
//! gancho_sdk::plugin!(transform);
//! ```
//!
//! Start from `gancho plugin new NAME`; build it with `gancho plugin build` (which needs no `.cargo/config.toml`)
//! and try it with
//! `gancho plugin run target/wasm32-wasip2/release/<name>.wasm --event event.json --config config.json`.
//!
//! ## Layout
//! - [`events`]: the envelope and a typed struct for every event in the catalog.
//! - [`request`]: [`Request`] and its JSON, form and text builders.
//! - [`subscription`]: the subscription, the customer's typed configuration, and [`ConfigError`] for refusing
//!   one when it is set.
//! - [`merge`]: [`Merged`], and [`merge_by`] for a plugin that merges requests waiting for one destination
//!   (`plugin!(transform, merge = merge)`).
//! - [`error`]: [`PluginError`], permanent or transient.
//! - [`log`](mod@log): logging through the host ([`info!`], [`warn!`], …).
//! - [`time`]: an instant in the customer's IANA time zone ([`time::to_local`]), right across daylight
//!   saving, from the host's time zone database.
//! - [`testing`]: run a plugin natively in `cargo test`.

extern crate self as gancho_sdk;

#[cfg_attr(not(all(target_arch = "wasm32", feature = "arena-allocator")), allow(dead_code))]
mod arena;
pub mod error;
pub mod events;
pub mod log;
pub mod merge;
pub mod request;
pub mod subscription;
pub mod testing;
pub mod time;

pub use error::{ErrorKind, PluginError};
pub use events::*;
pub use merge::{BatchLimits, MergeFn, Merged, merge_by};
pub use request::{Method, Request, form_encode, percent_encode};
pub use subscription::{ConfigError, Subscription};

#[cfg(all(target_arch = "wasm32", feature = "arena-allocator"))]
#[global_allocator]
static ALLOCATOR: arena::Arena = arena::Arena::new();

/// The version of the WIT package (`gancho:plugin`) this SDK builds plugins against.
pub const WORLD_VERSION: &str = "0.1.3";

/// The code generated from `wit/`. Plugin authors do not use it directly.
///
/// Two worlds, because a component exports every function of its world and `merge` is optional: `plugin`
/// for a plugin that does not merge, and (in [`bindings::merging`]) `merging-plugin` for one that does.
/// The second shares the first's types, so the glue below serves both; each world's exports are described
/// to the linker only where [`plugin!`] expands its export macro, so a plugin carries just one of them.
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "__export_plugin_world",
        default_bindings_module: "gancho_sdk::bindings",
        runtime_path: "gancho_sdk::__private::wit_bindgen::rt",
    });

    /// The `merging-plugin` world: `plugin` and `merge`.
    pub mod merging {
        wit_bindgen::generate!({
            path: "../wit",
            world: "merging-plugin",
            pub_export_macro: true,
            export_macro_name: "__export_merging_plugin_world",
            default_bindings_module: "gancho_sdk::bindings::merging",
            runtime_path: "gancho_sdk::__private::wit_bindgen::rt",
            with: {
                "gancho:plugin/types@0.1.3": crate::bindings::gancho::plugin::types,
                "gancho:plugin/log@0.1.3": crate::bindings::gancho::plugin::log,
                "gancho:plugin/time@0.1.3": crate::bindings::gancho::plugin::time,
                "gancho:plugin/check@0.1.3": crate::bindings::gancho::plugin::check,
            },
        });
    }
}

/// Registers `transform` as the plugin's entry point. Its type is
/// `fn(Event, Subscription<C>) -> Result<Vec<Request>, PluginError>` for any configuration type `C` that
/// implements `serde::Deserialize`. On targets other than wasm32 the macro expands to nothing, so the same
/// crate can be unit-tested natively.
///
/// The plugin also gets `validate-config`: Gancho calls it when a customer sets a subscription's
/// configuration, and a configuration that does not deserialize into `C` (a misspelt key with
/// `#[serde(deny_unknown_fields)]`, a missing or mistyped field) is refused then, naming the field. For
/// checks serde cannot make, add a function `fn(&C) -> Result<(), ConfigError>`:
/// `plugin!(transform, validate = check_config)`; it runs on every configuration that deserializes.
///
/// A plugin whose destination takes many records in one request can merge requests that wait for it:
/// add `merge = merge` (after `validate = …`, if any), a function
/// `fn(Vec<Request>, Subscription<C>) -> Result<Vec<Merged>, PluginError>`; see [`merge`](mod@merge).
/// Without it the plugin does not export `merge` and each request is delivered alone.
#[macro_export]
macro_rules! plugin {
    ($transform:path $(,)?) => {
        $crate::plugin!($transform, validate = $crate::__private::no_further_checks);
    };
    ($transform:path, merge = $merge:path $(,)?) => {
        $crate::plugin!($transform, validate = $crate::__private::no_further_checks, merge = $merge);
    };
    ($transform:path, validate = $validate:path $(,)?) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct GanchoPlugin;

            impl $crate::bindings::Guest for GanchoPlugin {
                $crate::__plugin_exports!($transform, $validate);
            }

    $crate::bindings::__export_plugin_world!(GanchoPlugin with_types_in $crate::bindings);
        };
    };
    ($transform:path, validate = $validate:path, merge = $merge:path $(,)?) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct GanchoPlugin;

            impl $crate::bindings::merging::Guest for GanchoPlugin {
                $crate::__plugin_exports!($transform, $validate);

                fn merge(
                    requests: $crate::__private::Vec<$crate::bindings::Request>,
                    subscription: $crate::bindings::Subscription,
                ) -> ::core::result::Result<
                    $crate::__private::Vec<$crate::bindings::merging::Merged>,
                    $crate::bindings::PluginError,
                > {
                    $crate::__private::merge_wit(requests, subscription, $merge)
                }
            }

    $crate::bindings::merging::__export_merging_plugin_world!(GanchoPlugin with_types_in $crate::bindings::merging);
        };
    };
}

/// `transform` and `validate-config`, the exports both worlds have, for [`plugin!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __plugin_exports {
    ($transform:path, $validate:path) => {
        fn transform(
            event: $crate::bindings::Event,
            subscription: $crate::bindings::Subscription,
        ) -> ::core::result::Result<
            $crate::__private::Vec<$crate::bindings::Request>,
            $crate::bindings::PluginError,
        > {
            $crate::__private::transform_wit(event, subscription, $transform)
        }

        fn validate_config(
            config: $crate::__private::String,
        ) -> ::core::result::Result<(), $crate::bindings::ConfigError> {
            $crate::__private::validate_config_wit(&config, $transform, $validate)
        }
    };
}

/// Glue between the generated bindings and the typed API, used by [`plugin!`].
#[doc(hidden)]
pub mod __private {
    pub use std::string::String;
    pub use std::vec::Vec;
    pub use wit_bindgen;

    use crate::bindings::gancho::plugin::types as wit;
    use crate::{ConfigError, ErrorKind, Event, Method, PluginError, Request, Subscription};

    /// `validate-config`: the configuration must deserialize into the `C` that `transform` takes, then
    /// pass `validate`. `transform` is only there to name `C`.
    pub fn validate_config_wit<C: serde::de::DeserializeOwned>(
        config_json: &str,
        _transform: fn(Event, Subscription<C>) -> Result<Vec<Request>, PluginError>,
        validate: fn(&C) -> Result<(), ConfigError>,
    ) -> Result<(), wit::ConfigError> {
        crate::subscription::parse_config(config_json)
            .and_then(|config| validate(&config))
            .map_err(|error| wit::ConfigError { field: error.field, message: error.message })
    }

    /// The `validate` of a plugin that asks for none: what deserializes is accepted.
    pub fn no_further_checks<C>(_config: &C) -> Result<(), ConfigError> {
        Ok(())
    }

    pub fn transform_wit<C: serde::de::DeserializeOwned>(
        event: wit::Event,
        subscription: wit::Subscription,
        transform: fn(Event, Subscription<C>) -> Result<Vec<Request>, PluginError>,
    ) -> Result<Vec<wit::Request>, wit::PluginError> {
        let event = Event {
            id: event.id,
            event_type: event.event_type,
            tenant: event.tenant,
            timestamp: event.timestamp,
            data_json: event.data,
        };
        let result = Subscription::parse(subscription.id, subscription.endpoint_url, &subscription.config)
            .and_then(|subscription| transform(event, subscription));
        match result {
            Ok(requests) => Ok(requests.into_iter().map(to_wit_request).collect()),
            Err(error) => Err(to_wit_error(error)),
        }
    }

    /// `merge`: the requests as the plugin built them (their URLs resolved by Gancho), the subscription's
    /// configuration typed as `transform` gets it.
    pub fn merge_wit<C: serde::de::DeserializeOwned>(
        requests: Vec<wit::Request>,
        subscription: wit::Subscription,
        merge: crate::merge::MergeFn<C>,
    ) -> Result<Vec<wit::Merged>, wit::PluginError> {
        let requests = requests.into_iter().map(from_wit_request).collect();
        let result = Subscription::parse(subscription.id, subscription.endpoint_url, &subscription.config)
            .and_then(|subscription| merge(requests, subscription));
        match result {
            Ok(merged) => Ok(merged
                .into_iter()
                .map(|merged| wit::Merged {
                    request: to_wit_request(merged.request),
                    carries: merged.carries.into_iter().map(|index| index as u32).collect(),
                })
                .collect()),
            Err(error) => Err(to_wit_error(error)),
        }
    }

    fn to_wit_error(error: PluginError) -> wit::PluginError {
        wit::PluginError {
            kind: match error.kind {
                ErrorKind::Permanent => wit::ErrorKind::Permanent,
                ErrorKind::Transient => wit::ErrorKind::Transient,
            },
            message: error.message,
        }
    }

    fn from_wit_request(request: wit::Request) -> Request {
        Request {
            method: match request.method {
                wit::Method::Get => Method::Get,
                wit::Method::Head => Method::Head,
                wit::Method::Post => Method::Post,
                wit::Method::Put => Method::Put,
                wit::Method::Patch => Method::Patch,
                wit::Method::Delete => Method::Delete,
            },
            url: request.url,
            headers: request.headers,
            body: request.body,
        }
    }

    fn to_wit_request(request: Request) -> wit::Request {
        wit::Request {
            method: match request.method {
                Method::Get => wit::Method::Get,
                Method::Head => wit::Method::Head,
                Method::Post => wit::Method::Post,
                Method::Put => wit::Method::Put,
                Method::Patch => wit::Method::Patch,
                Method::Delete => wit::Method::Delete,
            },
            url: request.url,
            headers: request.headers,
            body: request.body,
        }
    }
}
