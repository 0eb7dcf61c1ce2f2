//! `berth:core/containers.service` and `directory`.
//!
//! Running services arrives with the services runtime; until then each
//! operation that needs a running service answers with a clear error.

use wasmtime::component::Resource;

use crate::spec::service_hostname;
use crate::wasm::bindings::berth::core::containers::{
    Directory, Error, HostDirectory, HostService, Port, Service,
};
use crate::wasm::bindings::berth::core::types::{ErrorKind, Protocol as WitProtocol};
use crate::wasm::state::CallState;

fn services_not_running() -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        "not supported: this berth does not run services yet",
    )
}

impl HostService for CallState {
    async fn hostname(
        &mut self,
        this: Resource<Service>,
    ) -> wasmtime::Result<Result<String, Error>> {
        let service = self.table.get(&this)?.clone();
        let images = self.host.evaluator.resolve_images(&service.container).await;
        Ok(images
            .map(|images| service_hostname(&service.digest(&images)))
            .map_err(Error::from))
    }

    async fn ports(&mut self, this: Resource<Service>) -> wasmtime::Result<Vec<Port>> {
        let service = self.table.get(&this)?;
        let tail = service.container.stages().pop();
        Ok(tail
            .map(|stage| stage.config.exposed_ports)
            .unwrap_or_default()
            .into_iter()
            .map(|port| Port {
                number: port.number,
                protocol: match port.protocol {
                    crate::spec::Protocol::Tcp => WitProtocol::Tcp,
                    crate::spec::Protocol::Udp => WitProtocol::Udp,
                },
                description: port.description,
            })
            .collect())
    }

    async fn endpoint(
        &mut self,
        this: Resource<Service>,
        _port: Option<u16>,
        _scheme: Option<String>,
    ) -> wasmtime::Result<Result<String, Error>> {
        self.table.get(&this)?;
        Ok(Err(services_not_running()))
    }

    async fn start(&mut self, this: Resource<Service>) -> wasmtime::Result<Result<(), Error>> {
        self.table.get(&this)?;
        Ok(Err(services_not_running()))
    }

    async fn stop(
        &mut self,
        this: Resource<Service>,
        _kill: bool,
    ) -> wasmtime::Result<Result<(), Error>> {
        self.table.get(&this)?;
        Ok(Err(services_not_running()))
    }

    async fn logs(
        &mut self,
        this: Resource<Service>,
        _tail: Option<u32>,
    ) -> wasmtime::Result<Result<String, Error>> {
        self.table.get(&this)?;
        Ok(Err(services_not_running()))
    }

    async fn drop(&mut self, this: Resource<Service>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl HostDirectory for CallState {
    async fn entries(
        &mut self,
        this: Resource<Directory>,
    ) -> wasmtime::Result<Result<Vec<String>, Error>> {
        match *self.table.get(&this)? {}
    }

    async fn digest(&mut self, this: Resource<Directory>) -> wasmtime::Result<String> {
        match *self.table.get(&this)? {}
    }

    async fn drop(&mut self, this: Resource<Directory>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}
