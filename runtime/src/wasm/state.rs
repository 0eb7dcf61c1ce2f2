//! What a store holds for one call: the guest's WASI context, its resource
//! table, its limits, and the host services its calls reach.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::guest_output::GuestOutput;
use std::collections::HashMap;

use crate::policy::{Limits, Policy};
use crate::services::{Lease, ServiceManager};
use crate::spec::{ContainerSpec, Digest, ServiceSpec};

/// The host side of a guest's `container` resource.
pub type ContainerHandle = ContainerSpec;

/// The host side of a guest's `service` resource.
pub type ServiceHandle = ServiceSpec;

/// The host side of a guest's `directory` resource: a snapshot of host files.
pub type DirectoryHandle = crate::host_directory::DirectorySnapshot;

/// Everything the host functions of one call can reach.
pub struct HostContext {
    pub services: Arc<ServiceManager>,
    pub policy: Arc<Policy>,
}

/// The data of a call's `Store`.
pub struct CallState {
    wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limits: CallLimits,
    pub(crate) host: Arc<HostContext>,
    /// Services the guest started explicitly, held until it stops them or the call ends.
    pub(crate) started: HashMap<Digest, Lease>,
}

impl CallState {
    /// State for calling `function`: no files, no environment, no sockets;
    /// stdout and stderr shown with the function's name in front.
    pub fn new(host: Arc<HostContext>, function: &str) -> Self {
        let wasi = WasiCtx::builder()
            .stdout(GuestOutput::stdout(function))
            .stderr(GuestOutput::stderr(function))
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(host.policy.limits.resources as usize);
        CallState {
            wasi,
            table,
            limits: CallLimits::new(&host.policy.limits),
            host,
            started: HashMap::new(),
        }
    }
}

/// The store's limits. `[limits] memory` bounds all the call's linear
/// memories together (a component can hold one per core instance, and
/// wasmtime's own limit is per memory). A memory growing past it is
/// remembered, so the trap that follows is reported as the limit it is.
pub struct CallLimits {
    store: StoreLimits,
    /// `[limits] memory`, in bytes.
    memory_limit: usize,
    /// The bytes the call's memories have grown to, together.
    memory_in_use: usize,
    memory_refused: bool,
}

impl CallLimits {
    /// The limits of one call under `limits`.
    pub fn new(limits: &Limits) -> CallLimits {
        CallLimits {
            store: StoreLimitsBuilder::new()
                .instances(limits.instances as usize)
                .tables(limits.tables as usize)
                .memories(limits.instances as usize)
                .trap_on_grow_failure(true)
                .build(),
            memory_limit: usize::try_from(limits.memory).unwrap_or(usize::MAX),
            memory_in_use: 0,
            memory_refused: false,
        }
    }

    /// Whether the guest tried to grow its memory past `[limits] memory`.
    pub fn memory_refused(&self) -> bool {
        self.memory_refused
    }
}

impl ResourceLimiter for CallLimits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let in_use = self.memory_in_use.saturating_sub(current) + desired;
        if in_use > self.memory_limit {
            self.memory_refused = true;
            wasmtime::bail!("forcing a trap: the call's memories would grow to {in_use} bytes");
        }
        let grown = self.store.memory_growing(current, desired, maximum);
        match grown {
            Ok(true) => self.memory_in_use = in_use,
            _ => self.memory_refused = true,
        }
        grown
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.store.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.store.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.store.instances()
    }

    fn tables(&self) -> usize {
        self.store.tables()
    }

    fn memories(&self) -> usize {
        self.store.memories()
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_limit_bounds_all_of_a_calls_memories_together() {
        let mut limits = CallLimits::new(&Limits {
            memory: 32 << 20,
            ..Limits::default()
        });
        assert!(limits.memory_growing(0, 24 << 20, None).unwrap());
        assert!(limits.memory_growing(0, 24 << 20, None).is_err());
        assert!(limits.memory_refused());
        // Growing the first memory within what is left is fine.
        let mut limits = CallLimits::new(&Limits {
            memory: 32 << 20,
            ..Limits::default()
        });
        assert!(limits.memory_growing(0, 16 << 20, None).unwrap());
        assert!(limits.memory_growing(16 << 20, 32 << 20, None).unwrap());
        assert!(!limits.memory_refused());
    }
}
