use std::sync::Arc;

use super::container::{ContainerSpec, ExposedPort, Protocol, ResolvedImages};
use super::digest::{CanonicalHasher, Digest};

/// A readiness check of a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// A TCP connect to the port succeeds.
    Tcp(u16),
    /// An HTTP GET answers with `status` (any 2xx or 3xx when `None`).
    Http {
        port: u16,
        path: String,
        status: Option<u16>,
    },
    /// The command, run inside the service's container, exits 0.
    Exec(Vec<String>),
    /// A line of the service's log contains this text.
    LogLine(String),
}

impl Probe {
    pub(super) fn write_canonical(&self, hasher: &mut CanonicalHasher) {
        match self {
            Probe::Tcp(port) => {
                hasher.tag(1).u64(u64::from(*port));
            }
            Probe::Http { port, path, status } => {
                hasher.tag(2).u64(u64::from(*port)).str(path);
                match status {
                    None => hasher.tag(0),
                    Some(status) => hasher.tag(1).u64(u64::from(*status)),
                };
            }
            Probe::Exec(args) => {
                hasher.tag(3).strs(args);
            }
            Probe::LogLine(text) => {
                hasher.tag(4).str(text);
            }
        }
    }
}

/// A forwarded port: containers use `frontend` (the backend's number when
/// `None`); the traffic reaches `backend` on the other side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortForward {
    pub frontend: Option<u16>,
    pub backend: u16,
    pub protocol: Protocol,
}

impl PortForward {
    /// The port clients use.
    pub fn frontend(&self) -> u16 {
        self.frontend.unwrap_or(self.backend)
    }
}

/// A service: a container run as one, or a port of a host.
#[derive(Clone, Debug)]
pub enum ServiceSpec {
    /// A container turned into a long-running service by `as-service`.
    Container {
        container: ContainerSpec,
        /// The command the service runs; the last exec's arguments when `None`.
        args: Option<Arc<[String]>>,
    },
    /// Ports of the calling host (or a host it reaches), by `host.service`.
    Host {
        host: String,
        ports: Vec<PortForward>,
    },
}

impl ServiceSpec {
    /// A container run as a service.
    pub fn container(container: ContainerSpec, args: Option<Arc<[String]>>) -> Self {
        ServiceSpec::Container { container, args }
    }

    /// Every image address the service and the services it binds start from.
    pub fn image_addresses(&self) -> Vec<&str> {
        match self {
            ServiceSpec::Container { container, .. } => container.image_addresses(),
            ServiceSpec::Host { .. } => Vec::new(),
        }
    }

    /// The ports clients reach the service on.
    pub fn ports(&self) -> Vec<ExposedPort> {
        match self {
            ServiceSpec::Container { container, .. } => container
                .stages()
                .pop()
                .map(|stage| stage.config.exposed_ports)
                .unwrap_or_default(),
            ServiceSpec::Host { ports, .. } => ports
                .iter()
                .map(|p| ExposedPort {
                    number: p.frontend(),
                    protocol: p.protocol,
                    description: None,
                })
                .collect(),
        }
    }

    /// The digest of the service: its container's digest and its arguments,
    /// or the host and its ports.
    pub fn digest(&self, images: &ResolvedImages) -> Digest {
        let mut hasher = CanonicalHasher::new("berth.service.v1");
        match self {
            ServiceSpec::Container { container, args } => {
                hasher.tag(1).digest(&container.digest(images));
                match args {
                    None => hasher.tag(0),
                    Some(args) => hasher.tag(1).strs(args),
                };
            }
            ServiceSpec::Host { host, ports } => {
                hasher.tag(2).str(host).u64(ports.len() as u64);
                for port in ports {
                    hasher
                        .u64(u64::from(port.frontend()))
                        .u64(u64::from(port.backend))
                        .str(port.protocol.as_str());
                }
            }
        }
        hasher.finish()
    }
}

/// The DNS name of a service with `digest`: lowercase base32 without padding,
/// 26 characters, a valid DNS label.
pub fn service_hostname(digest: &Digest) -> String {
    let bytes = digest.as_bytes();
    data_encoding::BASE32_NOPAD
        .encode(&bytes[..16])
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Op;

    fn service(command: &str) -> ServiceSpec {
        ServiceSpec::container(
            ContainerSpec::new("busybox").with(Op::Exec(vec![command.to_string()].into())),
            None,
        )
    }

    #[test]
    fn hostnames_are_dns_labels_and_follow_the_digest() {
        let images = ResolvedImages::new();
        let a = service_hostname(&service("a").digest(&images));
        let b = service_hostname(&service("b").digest(&images));
        assert_ne!(a, b);
        assert_eq!(a, service_hostname(&service("a").digest(&images)));
        assert!(
            a.len() <= 63
                && a.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
    }

    #[test]
    fn a_different_bound_service_changes_the_digest() {
        let images = ResolvedImages::new();
        let client = |svc: ServiceSpec| {
            ServiceSpec::container(
                ContainerSpec::new("busybox").with(Op::ServiceBinding {
                    alias: "db".into(),
                    service: svc,
                }),
                None,
            )
        };
        assert_ne!(
            client(service("a")).digest(&images),
            client(service("b")).digest(&images)
        );
    }

    #[test]
    fn host_services_differ_by_host_and_port() {
        let images = ResolvedImages::new();
        let host = |host: &str, backend| ServiceSpec::Host {
            host: host.into(),
            ports: vec![PortForward {
                frontend: None,
                backend,
                protocol: Protocol::Tcp,
            }],
        };
        assert_ne!(
            host("localhost", 1).digest(&images),
            host("localhost", 2).digest(&images)
        );
        assert_ne!(
            host("localhost", 1).digest(&images),
            host("other", 1).digest(&images)
        );
    }
}
