use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::pipeline;
use crate::services::{Lease, ServiceManager};
use crate::spec::ServiceSpec;

use super::{Peers, Target, Tunnel};

/// Why a service could not be published on the host.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    #[error(transparent)]
    Service(#[from] pipeline::Error),

    #[error("{address} is already in use; pick another port with --ports FRONT:BACK or --random")]
    PortInUse { address: SocketAddr },

    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },

    #[error("the service exposes no ports; name them with --ports FRONT:BACK")]
    NoPorts,
}

/// One host port forwarded to one service port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortMapping {
    /// The host port; 0 picks a free one.
    pub frontend: u16,
    /// The service's port.
    pub backend: u16,
}

/// A service reachable from the calling host; dropping it closes the tunnels
/// and releases the service.
pub struct Publication {
    tunnels: Vec<Tunnel>,
    hostname: String,
    _lease: Lease,
}

impl Publication {
    /// `(host address, service port)` of each tunnel.
    pub fn tunnels(&self) -> impl Iterator<Item = (SocketAddr, u16)> + '_ {
        self.tunnels
            .iter()
            .map(|t| (t.local_addr(), t.target_port()))
    }

    /// The service's hostname.
    pub fn hostname(&self) -> &str {
        &self.hostname
    }
}

/// The mappings `up` uses when none are given: each exposed TCP port on its own
/// number, or on a free one with `random`.
pub fn default_mappings(
    service: &ServiceSpec,
    random: bool,
) -> Result<Vec<PortMapping>, PublishError> {
    let mappings: Vec<PortMapping> = service
        .ports()
        .iter()
        .filter(|p| p.protocol == crate::spec::Protocol::Tcp)
        .map(|p| PortMapping {
            frontend: if random { 0 } else { p.number },
            backend: p.number,
        })
        .collect();
    if mappings.is_empty() {
        return Err(PublishError::NoPorts);
    }
    Ok(mappings)
}

/// Starts the service (if needed), waits until it is healthy, and opens a
/// tunnel for every mapping on `bind`. Either every tunnel opens or none stays open.
pub async fn publish(
    services: &Arc<ServiceManager>,
    service: &ServiceSpec,
    mappings: &[PortMapping],
    bind: IpAddr,
) -> Result<Publication, PublishError> {
    // Listen first, so a taken port fails before anything starts.
    let mut listeners = Vec::new();
    for mapping in mappings {
        let address = SocketAddr::new(bind, mapping.frontend);
        match std::net::TcpListener::bind(address) {
            Ok(listener) => listeners.push(listener),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                return Err(PublishError::PortInUse { address });
            }
            Err(source) => return Err(PublishError::Listen { address, source }),
        }
    }
    let lease = services.acquire(service).await?;
    let endpoint = lease.endpoint();
    let mut tunnels = Vec::new();
    for (listener, mapping) in listeners.into_iter().zip(mappings) {
        let address = listener
            .local_addr()
            .map_err(|source| PublishError::Listen {
                address: SocketAddr::new(bind, mapping.frontend),
                source,
            })?;
        let target = match &endpoint.container {
            Some(container) => Target::Service {
                backend: services.evaluator().session().backend().clone(),
                container: container.clone(),
                port: mapping.backend,
            },
            None => Target::host(&endpoint.address, mapping.backend),
        };
        let tunnel = Tunnel::from_listener(listener, target, Peers::any())
            .map_err(|source| PublishError::Listen { address, source })?;
        tunnels.push(tunnel);
    }
    Ok(Publication {
        tunnels,
        hostname: lease.hostname().to_string(),
        _lease: lease,
    })
}
