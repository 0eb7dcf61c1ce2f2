use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

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
    /// A runtime that caches compiled components under `cache_dir/components`,
    /// with instances from the pooling allocator.
    pub fn new(cache_dir: &Path) -> Result<Runtime, Error> {
        Runtime::with_allocation(cache_dir, InstanceAllocationStrategy::Pooling(pool()))
    }

    /// A runtime that maps each instance's memory when it is made (what
    /// wasmtime does by default): for comparison, and for hosts that cannot
    /// reserve the pool's address space.
    pub fn on_demand(cache_dir: &Path) -> Result<Runtime, Error> {
        Runtime::with_allocation(cache_dir, InstanceAllocationStrategy::OnDemand)
    }

    fn with_allocation(
        cache_dir: &Path,
        allocation: InstanceAllocationStrategy,
    ) -> Result<Runtime, Error> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.allocation_strategy(allocation);
        // A call's async stack is wiped when it is handed back: nothing of one
        // call (one tenant's) is left for the next, and a burst of calls
        // gives its memory back.
        config.async_stack_zeroing(true);
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

/// Plugin instances that may live at once in one process.
pub const POOLED_INSTANCES: u32 = 1000;

/// The pooling allocator: slots for instances, memories, tables and async
/// stacks are reserved once (as address space, committed on use), so an
/// instantiation takes slots instead of mapping memory, and a finished call
/// hands them back. Components carry several core instances (adapters,
/// shims, and for Python and JavaScript a whole interpreter), hence the
/// larger counts per component; CPython's function table passes the default
/// 20,000 elements.
fn pool() -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(POOLED_INSTANCES)
        .total_core_instances(POOLED_INSTANCES * 10)
        .total_memories(POOLED_INSTANCES * 2)
        .total_tables(POOLED_INSTANCES * 4)
        .total_stacks(POOLED_INSTANCES)
        .table_elements(200_000)
        .max_core_instance_size(8 << 20)
        .max_component_instance_size(8 << 20);
    pool
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
