//! What a store holds for one call: the guest's WASI context, its resource
//! table, its limits, and the host services its calls reach.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::guest_output::GuestOutput;
use std::collections::HashMap;

use crate::policy::Policy;
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
        let limits = &host.policy.limits;
        let store_limits = StoreLimitsBuilder::new()
            .memory_size(usize::try_from(limits.memory).unwrap_or(usize::MAX))
            .instances(limits.instances as usize)
            .tables(limits.tables as usize)
            .memories(limits.instances as usize)
            .trap_on_grow_failure(true)
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(limits.resources as usize);
        CallState {
            wasi,
            table,
            limits: CallLimits {
                store: store_limits,
                memory_refused: false,
            },
            host,
            started: HashMap::new(),
        }
    }
}

/// The store's limits, remembering whether a memory grew past its limit, so
/// the trap that follows is reported as the limit it is.
pub struct CallLimits {
    store: StoreLimits,
    memory_refused: bool,
}

impl CallLimits {
    /// Whether the guest tried to grow a memory past `[limits] memory`.
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
        let grown = self.store.memory_growing(current, desired, maximum);
        if !matches!(grown, Ok(true)) {
            self.memory_refused = true;
        }
        grown
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
