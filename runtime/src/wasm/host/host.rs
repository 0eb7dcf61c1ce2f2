//! `berth:core/host`: what a function may reach on the calling host.

use tracing::instrument;
use wasmtime::component::Resource;

use crate::wasm::bindings::berth::core::host::{
    Error, Host, HostDirectory, HostService, PortForward,
};
use crate::wasm::bindings::berth::core::types::ErrorKind;
use crate::wasm::state::CallState;

impl Host for CallState {
    #[instrument(skip(self), err(level = "debug"))]
    async fn service(
        &mut self,
        ports: Vec<PortForward>,
        host: Option<String>,
    ) -> wasmtime::Result<Result<Resource<HostService>, Error>> {
        Ok(Err(Error::new(
            ErrorKind::NotAllowed,
            "not supported: this berth does not forward host services yet",
        )))
    }

    #[instrument(skip(self), err(level = "debug"))]
    async fn directory(
        &mut self,
        path: String,
    ) -> wasmtime::Result<Result<Resource<HostDirectory>, Error>> {
        Ok(Err(Error::new(
            ErrorKind::NotAllowed,
            format!(
                "host directory `{path}` is not under a root granted in berth.toml (none are granted)"
            ),
        )))
    }
}
