//! Compiled components on disk, so a plugin is compiled once per engine build.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use tracing::{debug, instrument};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Compiled components under one directory, keyed by the blake3 of the
/// component's bytes and the engine's precompile compatibility hash.
#[derive(Clone, Debug)]
pub struct ComponentCache {
    dir: PathBuf,
}

impl ComponentCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: PathBuf) -> Self {
        ComponentCache { dir }
    }

    /// Where the compiled form of `bytes` lives for `engine`.
    pub fn entry_path(&self, engine: &Engine, bytes: &[u8]) -> PathBuf {
        let content = blake3::hash(bytes).to_hex();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        self.dir
            .join(format!("{content}-{:016x}.cwasm", hasher.finish()))
    }

    /// The compiled component: loaded from the cache, or compiled and stored.
    ///
    /// The caller has validated that `bytes` is a component. A cache entry that
    /// cannot be loaded (truncated, from another build) is compiled again.
    #[instrument(skip_all, err(level = "debug"))]
    pub fn load(&self, engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
        let path = self.entry_path(engine, bytes);
        if path.exists() {
            // SAFETY: the file is one this cache wrote with `Component::serialize`
            // under a name that binds it to these bytes and this engine build;
            // wasmtime checks its header and rejects anything else.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => {
                    debug!(path = %path.display(), "compiled component from cache");
                    return Ok(component);
                }
                Err(e) => debug!(error = %e, "cache entry unusable; compiling again"),
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Err(e) = self.store(&path, &component) {
            // A cache we cannot write only costs speed.
            tracing::warn!(path = %path.display(), error = %e, "could not cache the compiled component");
        }
        Ok(component)
    }

    fn store(&self, path: &Path, component: &Component) -> wasmtime::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let serialized = component.serialize()?;
        let temporary = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&temporary, serialized)?;
        std::fs::rename(&temporary, path)?;
        Ok(())
    }
}
