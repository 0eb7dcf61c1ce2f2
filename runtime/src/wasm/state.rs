//! What a store holds for one call: the guest's WASI context, its resource
//! table, its limits, and the host services its calls reach.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
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
///
/// No policy grants host directories yet, so `host.directory` refuses every
/// path and no value of this type is ever made.
pub enum DirectoryHandle {}

/// Everything the host functions of one call can reach.
pub struct HostContext {
    pub services: Arc<ServiceManager>,
    pub policy: Arc<Policy>,
}

/// The data of a call's `Store`.
pub struct CallState {
    wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limits: StoreLimits,
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
        let limits = StoreLimitsBuilder::new()
            .memory_size(host.policy.limits.memory as usize)
            .instances(64)
            .tables(64)
            .trap_on_grow_failure(true)
            .build();
        CallState {
            wasi,
            table: ResourceTable::new(),
            limits,
            host,
            started: HashMap::new(),
        }
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
