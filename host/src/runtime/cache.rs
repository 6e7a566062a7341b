//! The on-disk cache of precompiled plugins. A plugin is compiled once per content digest and engine
//! configuration (the key holds both), then loaded in well under a millisecond on every later start.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use super::LoadError;

/// Where precompiled plugins live, for one engine configuration.
pub(crate) struct PrecompiledCache {
    dir: PathBuf,
    engine_key: String,
}

impl PrecompiledCache {
    pub fn new(dir: &Path, engine: &Engine) -> PrecompiledCache {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        PrecompiledCache { dir: dir.to_owned(), engine_key: format!("{:016x}", hasher.finish()) }
    }

    /// The component for `wasm` (whose SHA-256 is `digest`): from the cache when present and usable,
    /// otherwise compiled (and stored, if `keep`). A damaged cache file is replaced, never trusted.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        digest: &str,
        wasm: &[u8],
        keep: bool,
    ) -> Result<Component, LoadError> {
        let path = self.dir.join(format!("{digest}-{}.cwasm", self.engine_key));
        if path.exists() {
            // SAFETY: the file was written by `Component::serialize` of an engine with this exact
            // configuration (the key is part of its name) into a directory only Gancho writes to.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok(component),
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "ignoring unusable precompiled plugin")
                }
            }
        }
        let component = super::compile(engine, wasm)?;
        if !keep {
            return Ok(component);
        }
        let cache_error = |error: &dyn std::fmt::Display| LoadError::Cache {
            path: path.display().to_string(),
            message: error.to_string(),
        };
        let bytes = component.serialize().map_err(|e| cache_error(&e))?;
        std::fs::create_dir_all(&self.dir).map_err(|e| cache_error(&e))?;
        // Write to a unique temporary name, then rename: readers never see a half-written file.
        let temporary = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&temporary, &bytes).map_err(|e| cache_error(&e))?;
        std::fs::rename(&temporary, &path).map_err(|e| cache_error(&e))?;
        Ok(component)
    }
}
