use std::sync::Arc;

use std::collections::HashMap;

use super::digest::{CanonicalHasher, Digest};
use super::service::{Probe, ServiceSpec};

/// Resolved image ids by image address, as the evaluator found them.
pub type ResolvedImages = HashMap<String, String>;

/// A network protocol of an exposed port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    /// The engine's spelling: `tcp` or `udp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// A port a container exposes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExposedPort {
    pub number: u16,
    pub protocol: Protocol,
    pub description: Option<String>,
}

/// A file written into the container by `with-new-file`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewFile {
    /// Absolute path inside the container.
    pub path: String,
    pub contents: Arc<[u8]>,
    /// Unix permission bits.
    pub permissions: u32,
}

/// One pipeline operation, in the order the function wrote it.
#[derive(Clone, Debug)]
pub enum Op {
    Exec(Arc<[String]>),
    NewFile(NewFile),
    EnvVariable {
        name: String,
        value: String,
    },
    Workdir(String),
    Entrypoint(Arc<[String]>),
    ExposedPort(ExposedPort),
    /// Makes `service` reachable as `alias` from later steps.
    ServiceBinding {
        alias: String,
        service: ServiceSpec,
    },
    /// Replaces the default health check of a service made from this container.
    HealthCheck {
        probes: Vec<Probe>,
        timeout_ms: Option<u32>,
    },
}

/// The container configuration in effect at one point of a pipeline.
#[derive(Clone, Debug, Default)]
pub struct RunConfig {
    /// Environment variables in first-set order; a later set replaces the value.
    pub env: Vec<(String, String)>,
    pub workdir: Option<String>,
    pub entrypoint: Option<Vec<String>>,
    pub exposed_ports: Vec<ExposedPort>,
    /// Services bound so far, by alias; a later binding of an alias replaces it.
    pub service_bindings: Vec<(String, ServiceSpec)>,
    /// The health check declared for a service made from this container.
    pub health_check: Option<(Vec<Probe>, Option<u32>)>,
}

/// The part of a pipeline up to and including one exec (or the tail after the last one).
#[derive(Clone, Debug)]
pub struct Stage {
    /// Files written since the previous exec, to be placed before this stage runs.
    pub files: Vec<NewFile>,
    pub config: RunConfig,
    /// The command of this stage; `None` for the tail after the last exec.
    pub exec: Option<Arc<[String]>>,
    /// How many operations of the pipeline this stage covers, counted from the start.
    pub ops_end: usize,
}

/// An immutable container pipeline: an image address and the operations on it.
///
/// ```
/// use berth::spec::{ContainerSpec, Op};
/// let base = ContainerSpec::new("busybox");
/// let hello = base.with(Op::Exec(vec!["echo".to_string(), "hi".to_string()].into()));
/// assert_eq!(base.ops().len(), 0);
/// assert_eq!(hello.ops().len(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct ContainerSpec {
    address: Arc<str>,
    ops: Arc<[Op]>,
}

impl ContainerSpec {
    /// A pipeline that starts from the image at `address`.
    pub fn new(address: &str) -> Self {
        ContainerSpec {
            address: address.into(),
            ops: Arc::from(Vec::new()),
        }
    }

    /// This pipeline with one more operation; `self` is unchanged.
    pub fn with(&self, op: Op) -> Self {
        let ops: Vec<Op> = self
            .ops
            .iter()
            .cloned()
            .chain(std::iter::once(op))
            .collect();
        ContainerSpec {
            address: self.address.clone(),
            ops: ops.into(),
        }
    }

    /// The image address the pipeline starts from, as the function wrote it.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The operations, in order.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// The pipeline cut into stages, one per exec plus a tail.
    pub fn stages(&self) -> Vec<Stage> {
        let mut stages = Vec::new();
        let mut config = RunConfig::default();
        let mut files = Vec::new();
        for (index, op) in self.ops.iter().enumerate() {
            match op {
                Op::Exec(args) => stages.push(Stage {
                    files: std::mem::take(&mut files),
                    config: config.clone(),
                    exec: Some(args.clone()),
                    ops_end: index + 1,
                }),
                Op::NewFile(file) => files.push(NewFile {
                    path: absolute_path(config.workdir.as_deref(), &file.path),
                    ..file.clone()
                }),
                Op::EnvVariable { name, value } => {
                    match config.env.iter_mut().find(|(existing, _)| existing == name) {
                        Some(entry) => entry.1 = value.clone(),
                        None => config.env.push((name.clone(), value.clone())),
                    }
                }
                Op::Workdir(path) => {
                    config.workdir = Some(absolute_path(config.workdir.as_deref(), path))
                }
                Op::Entrypoint(args) => config.entrypoint = Some(args.to_vec()),
                Op::ExposedPort(port) => {
                    config
                        .exposed_ports
                        .retain(|p| (p.number, p.protocol) != (port.number, port.protocol));
                    config.exposed_ports.push(port.clone());
                }
                Op::ServiceBinding { alias, service } => {
                    config
                        .service_bindings
                        .retain(|(existing, _)| existing != alias);
                    config
                        .service_bindings
                        .push((alias.clone(), service.clone()));
                }
                Op::HealthCheck { probes, timeout_ms } => {
                    config.health_check = Some((probes.clone(), *timeout_ms))
                }
            }
        }
        stages.push(Stage {
            files,
            config,
            exec: None,
            ops_end: self.ops.len(),
        });
        stages
    }

    /// Every image address this pipeline and the services it binds start from.
    pub fn image_addresses(&self) -> Vec<&str> {
        let mut addresses = vec![self.address()];
        for op in self.ops.iter() {
            if let Op::ServiceBinding { service, .. } = op {
                addresses.extend(service.image_addresses());
            }
        }
        addresses
    }

    /// Digests of every prefix of the pipeline, with image addresses replaced
    /// by their ids in `images` (an address missing there stands for itself):
    /// element `k` covers the first `k` operations, the last covers them all.
    pub fn prefix_digests(&self, images: &ResolvedImages) -> Vec<Digest> {
        let mut hasher = CanonicalHasher::new("berth.container.v1");
        hasher.str(resolved(images, self.address()));
        let mut digests = Vec::with_capacity(self.ops.len() + 1);
        digests.push(hasher.finish());
        for op in self.ops.iter() {
            write_op(&mut hasher, op, images);
            digests.push(hasher.finish());
        }
        digests
    }

    /// The digest of the whole pipeline; see [`ContainerSpec::prefix_digests`].
    pub fn digest(&self, images: &ResolvedImages) -> Digest {
        let mut digests = self.prefix_digests(images);
        digests
            .pop()
            .unwrap_or_else(|| CanonicalHasher::new("berth.container.v1").finish())
    }
}

fn resolved<'a>(images: &'a ResolvedImages, address: &'a str) -> &'a str {
    images.get(address).map(String::as_str).unwrap_or(address)
}

fn write_op(hasher: &mut CanonicalHasher, op: &Op, images: &ResolvedImages) {
    match op {
        Op::Exec(args) => {
            hasher.tag(1).strs(args);
        }
        Op::NewFile(file) => {
            hasher
                .tag(2)
                .str(&file.path)
                .bytes(&file.contents)
                .u64(u64::from(file.permissions));
        }
        Op::EnvVariable { name, value } => {
            hasher.tag(3).str(name).str(value);
        }
        Op::Workdir(path) => {
            hasher.tag(4).str(path);
        }
        Op::Entrypoint(args) => {
            hasher.tag(5).strs(args);
        }
        Op::ExposedPort(port) => {
            hasher
                .tag(6)
                .u64(u64::from(port.number))
                .str(port.protocol.as_str())
                .opt_str(port.description.as_deref());
        }
        Op::ServiceBinding { alias, service } => {
            hasher.tag(7).str(alias).digest(&service.digest(images));
        }
        Op::HealthCheck { probes, timeout_ms } => {
            hasher.tag(8).u64(probes.len() as u64);
            for probe in probes {
                probe.write_canonical(hasher);
            }
            match timeout_ms {
                None => hasher.tag(0),
                Some(ms) => hasher.tag(1).u64(u64::from(*ms)),
            };
        }
    }
}

/// `path` made absolute against `workdir` (or `/`), with `.` and `..` folded.
pub fn absolute_path(workdir: Option<&str>, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{}/{}", workdir.unwrap_or("/"), path)
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(id: &str) -> ResolvedImages {
        ResolvedImages::from([("busybox".to_string(), id.to_string())])
    }

    fn exec(args: &[&str]) -> Op {
        Op::Exec(
            args.iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .into(),
        )
    }

    fn every_kind_of_op() -> Vec<Op> {
        vec![
            exec(&["echo", "hi"]),
            Op::NewFile(NewFile {
                path: "/a".into(),
                contents: Arc::from(&b"x"[..]),
                permissions: 0o644,
            }),
            Op::EnvVariable {
                name: "A".into(),
                value: "1".into(),
            },
            Op::Workdir("/w".into()),
            Op::Entrypoint(vec!["sh".to_string()].into()),
            Op::ExposedPort(ExposedPort {
                number: 80,
                protocol: Protocol::Tcp,
                description: None,
            }),
        ]
    }

    /// Variants of each op that differ in exactly one field.
    fn one_field_changed() -> Vec<(Op, Op)> {
        let file = |path: &str, contents: &[u8], permissions| {
            Op::NewFile(NewFile {
                path: path.into(),
                contents: Arc::from(contents),
                permissions,
            })
        };
        let env = |name: &str, value: &str| Op::EnvVariable {
            name: name.into(),
            value: value.into(),
        };
        let port = |number, protocol, description: Option<&str>| {
            Op::ExposedPort(ExposedPort {
                number,
                protocol,
                description: description.map(String::from),
            })
        };
        vec![
            (exec(&["a", "b"]), exec(&["ab"])),
            (file("/a", b"x", 0o644), file("/b", b"x", 0o644)),
            (file("/a", b"x", 0o644), file("/a", b"y", 0o644)),
            (file("/a", b"x", 0o644), file("/a", b"x", 0o755)),
            (env("A", "1"), env("B", "1")),
            (env("A", "1"), env("A", "2")),
            (Op::Workdir("/a".into()), Op::Workdir("/b".into())),
            (
                Op::Entrypoint(vec!["sh".to_string()].into()),
                Op::Entrypoint(vec!["bash".to_string()].into()),
            ),
            (port(80, Protocol::Tcp, None), port(81, Protocol::Tcp, None)),
            (port(80, Protocol::Tcp, None), port(80, Protocol::Udp, None)),
            (
                port(80, Protocol::Tcp, None),
                port(80, Protocol::Tcp, Some("web")),
            ),
        ]
    }

    #[test]
    fn equal_pipelines_have_equal_digests() {
        let build = || {
            every_kind_of_op()
                .into_iter()
                .fold(ContainerSpec::new("busybox"), |spec, op| spec.with(op))
        };
        assert_eq!(
            build().digest(&images("sha256:1")),
            build().digest(&images("sha256:1"))
        );
    }

    #[test]
    fn every_field_changes_the_digest() {
        let base = ContainerSpec::new("busybox");
        for (left, right) in one_field_changed() {
            assert_ne!(
                base.with(left.clone()).digest(&images("sha256:1")),
                base.with(right.clone()).digest(&images("sha256:1")),
                "{left:?} and {right:?} hash alike"
            );
        }
        assert_ne!(
            base.digest(&images("sha256:1")),
            base.digest(&images("sha256:2"))
        );
    }

    #[test]
    fn operation_order_changes_the_digest() {
        let base = ContainerSpec::new("busybox");
        let ab = base.with(exec(&["a"])).with(exec(&["b"]));
        let ba = base.with(exec(&["b"])).with(exec(&["a"]));
        assert_ne!(ab.digest(&images("i")), ba.digest(&images("i")));
    }

    #[test]
    fn stages_split_at_execs_and_carry_config() {
        let spec = ContainerSpec::new("busybox")
            .with(Op::Workdir("/app".into()))
            .with(Op::NewFile(NewFile {
                path: "f.txt".into(),
                contents: Arc::from(&b"1"[..]),
                permissions: 0o600,
            }))
            .with(exec(&["cat", "f.txt"]))
            .with(Op::EnvVariable {
                name: "X".into(),
                value: "1".into(),
            })
            .with(Op::EnvVariable {
                name: "X".into(),
                value: "2".into(),
            });
        let stages = spec.stages();
        assert_eq!(stages.len(), 2);
        assert_eq!(stages[0].files[0].path, "/app/f.txt");
        assert_eq!(stages[0].ops_end, 3);
        assert!(stages[1].exec.is_none());
        assert_eq!(
            stages[1].config.env,
            vec![("X".to_string(), "2".to_string())]
        );
        assert_eq!(stages[1].config.workdir.as_deref(), Some("/app"));
    }

    #[test]
    fn relative_paths_fold_dots() {
        assert_eq!(absolute_path(Some("/a/b"), "../c/./d"), "/a/c/d");
        assert_eq!(absolute_path(None, "x"), "/x");
        assert_eq!(absolute_path(Some("/a"), "/abs"), "/abs");
    }
}
