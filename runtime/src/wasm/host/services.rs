//! `berth:core/containers.service` and `directory`.

use tracing::instrument;
use wasmtime::component::Resource;

use crate::spec::{Protocol, ServiceSpec};
use crate::wasm::bindings::berth::core::containers::{
    Directory, Error, HostDirectory, HostService, Port, Service,
};
use crate::wasm::bindings::berth::core::types::Protocol as WitProtocol;
use crate::wasm::state::CallState;

impl CallState {
    fn service_spec(&self, service: &Resource<Service>) -> wasmtime::Result<ServiceSpec> {
        Ok(self.table.get(service)?.clone())
    }
}

impl HostService for CallState {
    #[instrument(skip_all, err(level = "debug"))]
    async fn hostname(
        &mut self,
        this: Resource<Service>,
    ) -> wasmtime::Result<Result<String, Error>> {
        let service = self.service_spec(&this)?;
        let identity = self.host.services.identify(&service).await;
        Ok(identity.map(|(_, hostname)| hostname).map_err(Error::from))
    }

    async fn ports(&mut self, this: Resource<Service>) -> wasmtime::Result<Vec<Port>> {
        let service = self.service_spec(&this)?;
        Ok(service
            .ports()
            .into_iter()
            .map(|port| Port {
                number: port.number,
                protocol: match port.protocol {
                    Protocol::Tcp => WitProtocol::Tcp,
                    Protocol::Udp => WitProtocol::Udp,
                },
                description: port.description,
            })
            .collect())
    }

    #[instrument(skip(self, this), err(level = "debug"))]
    async fn endpoint(
        &mut self,
        this: Resource<Service>,
        port: Option<u16>,
        scheme: Option<String>,
    ) -> wasmtime::Result<Result<String, Error>> {
        let service = self.service_spec(&this)?;
        let endpoint = self
            .host
            .services
            .endpoint(&service, port, scheme.as_deref())
            .await;
        Ok(endpoint.map_err(Error::from))
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn start(&mut self, this: Resource<Service>) -> wasmtime::Result<Result<(), Error>> {
        let service = self.service_spec(&this)?;
        let services = self.host.services.clone();
        let (digest, _) = match services.identify(&service).await {
            Ok(identity) => identity,
            Err(e) => return Ok(Err(e.into())),
        };
        if self.started.contains_key(&digest) {
            return Ok(Ok(()));
        }
        match services.acquire(&service).await {
            Ok(lease) => {
                self.started.insert(digest, lease);
                Ok(Ok(()))
            }
            Err(e) => Ok(Err(e.into())),
        }
    }

    #[instrument(skip(self, this), err(level = "debug"))]
    async fn stop(
        &mut self,
        this: Resource<Service>,
        kill: bool,
    ) -> wasmtime::Result<Result<(), Error>> {
        let service = self.service_spec(&this)?;
        let services = self.host.services.clone();
        if let Ok((digest, _)) = services.identify(&service).await {
            self.started.remove(&digest);
        }
        Ok(services.stop(&service, kill).await.map_err(Error::from))
    }

    #[instrument(skip(self, this), err(level = "debug"))]
    async fn logs(
        &mut self,
        this: Resource<Service>,
        tail: Option<u32>,
    ) -> wasmtime::Result<Result<String, Error>> {
        let service = self.service_spec(&this)?;
        Ok(self
            .host
            .services
            .logs(&service, tail)
            .await
            .map_err(Error::from))
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
        let snapshot = self.table.get(&this)?;
        Ok(Ok(snapshot
            .files
            .iter()
            .map(|f| f.relative.clone())
            .collect()))
    }

    async fn digest(&mut self, this: Resource<Directory>) -> wasmtime::Result<String> {
        Ok(self.table.get(&this)?.digest.clone())
    }

    async fn drop(&mut self, this: Resource<Directory>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}
