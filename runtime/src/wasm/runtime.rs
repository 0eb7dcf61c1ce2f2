use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Config, Engine};

use super::Error;
use super::component_cache::ComponentCache;
use super::plugin::Plugin;
use super::state::CallState;

/// How often guest code is interrupted to let deadlines and cancellation act.
pub(super) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The wasm engine, the linker with the host side of `berth:core`, and the
/// compiled-component cache. One per process; plugins share it.
pub struct Runtime {
    engine: Engine,
    linker: Arc<Linker<CallState>>,
    cache: ComponentCache,
}

impl Runtime {
    /// A runtime that caches compiled components under `cache_dir/components`.
    pub fn new(cache_dir: &Path) -> Result<Runtime, Error> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        let engine = Engine::new(&config).map_err(|e| Error::Engine(e.to_string()))?;
        spawn_epoch_ticker(&engine);
        let mut linker = Linker::new(&engine);
        super::host::add_to_linker(&mut linker).map_err(|e| Error::Engine(e.to_string()))?;
        Ok(Runtime {
            engine,
            linker: Arc::new(linker),
            cache: ComponentCache::new(cache_dir.join("components")),
        })
    }

    /// The wasm engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The compiled-component cache.
    pub fn component_cache(&self) -> &ComponentCache {
        &self.cache
    }

    /// Loads, validates, compiles (or loads from cache) and links a plugin.
    pub fn load(&self, path: &Path) -> Result<Plugin, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Plugin::new(self, &path.display().to_string(), &bytes)
    }

    /// Validates, compiles (or loads from cache) and links a plugin's bytes;
    /// `name` is what errors call it.
    pub fn load_bytes(&self, name: &str, bytes: &[u8]) -> Result<Plugin, Error> {
        Plugin::new(self, name, bytes)
    }

    pub(super) fn linker(&self) -> &Linker<CallState> {
        &self.linker
    }
}

/// Advances the engine's epoch while the engine lives.
fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::spawn(move || {
        while let Some(engine) = weak.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(EPOCH_TICK);
        }
    });
}
