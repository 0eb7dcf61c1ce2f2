//! `berth:core/host`: what a function may reach on the calling host.

use tracing::instrument;
use wasmtime::component::Resource;

use crate::host_directory;
use crate::spec::ServiceSpec;
use crate::wasm::bindings::berth::core::host::{
    Error, Host, HostDirectory, HostService, PortForward,
};
use crate::wasm::bindings::berth::core::types::{ErrorKind, Protocol as WitProtocol};
use crate::wasm::state::CallState;

impl Host for CallState {
    #[instrument(skip(self), err(level = "debug"))]
    async fn service(
        &mut self,
        ports: Vec<PortForward>,
        host: Option<String>,
    ) -> wasmtime::Result<Result<Resource<HostService>, Error>> {
        let host = host.as_deref().unwrap_or("localhost");
        let service = match host_service(host, &ports) {
            Ok(service) => service,
            Err(message) => return Ok(Err(Error::new(ErrorKind::InvalidArgument, message))),
        };
        if let Err(message) = self.host.policy.host.check_service(host) {
            return Ok(Err(Error::new(ErrorKind::NotAllowed, message)));
        }
        Ok(Ok(self.table.push(service)?))
    }

    #[instrument(skip(self), err(level = "debug"))]
    async fn directory(
        &mut self,
        path: String,
    ) -> wasmtime::Result<Result<Resource<HostDirectory>, Error>> {
        let roots = self.host.policy.host.directories.clone();
        let read =
            tokio::task::spawn_blocking(move || host_directory::snapshot(&roots, &path)).await?;
        match read {
            Ok(snapshot) => Ok(Ok(self.table.push(snapshot)?)),
            Err(e) => {
                let kind = match e {
                    host_directory::Error::NotGranted { .. }
                    | host_directory::Error::Escapes { .. } => ErrorKind::NotAllowed,
                    host_directory::Error::TooLarge { .. } => ErrorKind::LimitExceeded,
                    _ => ErrorKind::InvalidArgument,
                };
                Ok(Err(Error::new(kind, e.to_string())))
            }
        }
    }
}

/// A host service after checking its address and ports.
pub(crate) fn host_service(host: &str, ports: &[PortForward]) -> Result<ServiceSpec, String> {
    if host.trim().is_empty() || host.contains(['/', ' ']) {
        return Err(format!("`{host}` is not a host name or address"));
    }
    if ports.is_empty() {
        return Err("a host service needs at least one port".into());
    }
    let mut forwards = Vec::new();
    for port in ports {
        if port.backend == 0 || port.frontend == Some(0) {
            return Err("port 0 cannot be forwarded; ports are 1 to 65535".into());
        }
        if port.protocol == WitProtocol::Udp {
            return Err("UDP host services are not supported; forward TCP ports".into());
        }
        forwards.push(crate::spec::PortForward {
            frontend: port.frontend,
            backend: port.backend,
            protocol: crate::spec::Protocol::Tcp,
        });
    }
    Ok(ServiceSpec::Host {
        host: host.to_string(),
        ports: forwards,
    })
}
