//! Compiled components on disk, so a plugin is compiled once per engine build,
//! with the WIT signatures of its exports, so they are decoded once too.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use tracing::{debug, instrument};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::signature::{FunctionSignature, exported_functions};

/// Compiled components under one directory, keyed by the blake3 of the
/// component's bytes and the engine's precompile compatibility hash. Next to
/// each, its exports' signatures as JSON: decoding them with wit-parser takes
/// longer than loading the compiled code of a large component (20–40 ms of an
/// 18 MB Python component's 50 ms warm load, in a release build).
#[derive(Clone, Debug)]
pub struct ComponentCache {
    dir: PathBuf,
}

impl ComponentCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: PathBuf) -> Self {
        ComponentCache { dir }
    }

    /// Where the compiled form of `bytes` lives for `engine` (its signatures
    /// live beside it, with the extension `functions.json`).
    pub fn entry_path(&self, engine: &Engine, bytes: &[u8]) -> PathBuf {
        let content = blake3::hash(bytes).to_hex();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        self.dir
            .join(format!("{content}-{:016x}.cwasm", hasher.finish()))
    }

    /// The compiled component and its exports' signatures: loaded from the
    /// cache, or compiled (decoded) and stored.
    ///
    /// The caller has validated that `bytes` is a component. A cache entry that
    /// cannot be loaded (truncated, from another build) is made again.
    #[instrument(skip_all, err(level = "debug"))]
    pub fn load(
        &self,
        engine: &Engine,
        bytes: &[u8],
    ) -> wasmtime::Result<(Component, Vec<FunctionSignature>)> {
        let path = self.entry_path(engine, bytes);
        let component = self.component(engine, bytes, &path)?;
        let functions = self.functions(bytes, &path.with_extension("functions.json"));
        Ok((component, functions))
    }

    fn component(&self, engine: &Engine, bytes: &[u8], path: &Path) -> wasmtime::Result<Component> {
        if path.exists() {
            // SAFETY: the file is one this cache wrote with `Component::serialize`
            // under a name that binds it to these bytes and this engine build;
            // wasmtime checks its header and rejects anything else.
            match unsafe { Component::deserialize_file(engine, path) } {
                Ok(component) => {
                    debug!(path = %path.display(), "compiled component from cache");
                    return Ok(component);
                }
                Err(e) => debug!(error = %e, "cache entry unusable; compiling again"),
            }
        }
        let component = Component::new(engine, bytes)?;
        self.store(path, &component.serialize()?);
        Ok(component)
    }

    /// The signatures stored at `path`, or decoded from `bytes` and stored.
    fn functions(&self, bytes: &[u8], path: &Path) -> Vec<FunctionSignature> {
        let stored = std::fs::read(path)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok());
        if let Some(functions) = stored {
            return functions;
        }
        let functions = exported_functions(bytes).unwrap_or_default();
        if let Ok(json) = serde_json::to_vec(&functions) {
            self.store(path, &json);
        }
        functions
    }

    /// Writes one cache file atomically; a cache we cannot write only costs speed.
    fn store(&self, path: &Path, contents: &[u8]) {
        if let Err(e) = crate::atomic_file::write(path, contents) {
            tracing::warn!(path = %path.display(), error = %e, "could not write to the component cache");
        }
    }
}
