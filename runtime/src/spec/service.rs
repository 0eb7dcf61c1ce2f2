use std::sync::Arc;

use super::container::{ContainerSpec, ResolvedImages};
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

/// A container turned into a long-running service by `as-service`.
#[derive(Clone, Debug)]
pub struct ServiceSpec {
    pub container: ContainerSpec,
    /// The command the service runs; the last exec's arguments when `None`.
    pub args: Option<Arc<[String]>>,
}

impl ServiceSpec {
    /// The digest of the service: its container's digest and its arguments.
    pub fn digest(&self, images: &ResolvedImages) -> Digest {
        let mut hasher = CanonicalHasher::new("berth.service.v1");
        hasher.digest(&self.container.digest(images));
        match &self.args {
            None => hasher.tag(0),
            Some(args) => hasher.tag(1).strs(args),
        };
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
        ServiceSpec {
            container: ContainerSpec::new("busybox")
                .with(Op::Exec(vec![command.to_string()].into())),
            args: None,
        }
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
        let client = |svc: ServiceSpec| ServiceSpec {
            container: ContainerSpec::new("busybox").with(Op::ServiceBinding {
                alias: "db".into(),
                service: svc,
            }),
            args: None,
        };
        assert_ne!(
            client(service("a")).digest(&images),
            client(service("b")).digest(&images)
        );
    }
}
