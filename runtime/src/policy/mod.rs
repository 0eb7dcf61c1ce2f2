//! Settings from `berth.toml`, read and validated once at start-up.
//!
//! Every setting has a safe default, so a missing file is a valid
//! configuration. An unknown key or an out-of-range value is rejected with
//! the key's path. The defaults, written out:
//!
//! ```toml
//! [limits]                 # per call
//! timeout = "30s"          # wall-clock deadline, host waits included
//! memory = "256MiB"        # linear memory the plugin may grow to
//! instances = 64           # core instances in the plugin's store
//! tables = 64              # tables in the plugin's store
//! resources = 10000        # resource handles the plugin may hold at once
//! containers = 100         # step and copy containers the call may start
//! services = 20            # service containers the call may start
//!
//! [images]
//! allow = ["*"]            # glob patterns of the images a plugin may ask for
//! [images.rewrite]         # used instead, before resolving (not checked against allow)
//! # "busybox" = "berth.local/busybox:latest"
//!
//! [containers]             # every container berth starts
//! memory = "512MiB"
//! cpus = 1.0
//! pids = 256
//!
//! [host]
//! services = ["localhost", "127.0.0.1", "::1"]   # hosts `host.service` may reach (globs)
//! directories = []         # roots `host.directory` may read below (relative to this file)
//! up = true                # whether `up` may publish services on host ports
//!
//! [services]
//! grace = "10s"            # how long an unused service keeps running
//! health_timeout = "60s"   # how long a service may take to become healthy
//!
//! [engine]
//! timeout = "60s"          # how long one engine request may take
//! reach = "auto"           # "auto": dial containers where this host is on their network,
//!                          # else through a relay container; "relay": always through one
//! relay_image = "busybox"  # the relay's image (sh, sleep and busybox nc; rewritten as above)
//! ```

mod images;
mod units;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use crate::backend::{ContainerLimits, EngineSettings, Reachability};
pub use images::ImagePolicy;
pub use units::{count_setting, parse_duration, parse_size};

/// The file name looked up in the current directory when no `--config` is given.
pub const CONFIG_FILE_NAME: &str = "berth.toml";

/// Why `berth.toml` could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config {path}: `{key}`: {message}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
}

/// All settings, validated.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub images: ImagePolicy,
    pub limits: Limits,
    pub containers: ContainerLimits,
    pub host: HostAccess,
    pub services: ServiceDefaults,
    pub engine: EngineSettings,
}

/// How services live and are checked, unless a service says otherwise.
#[derive(Clone, Debug)]
pub struct ServiceDefaults {
    /// How long a service nobody uses keeps running before it stops.
    pub grace: Duration,
    /// How long a service may take to pass its health checks.
    pub health_timeout: Duration,
}

impl Default for ServiceDefaults {
    fn default() -> Self {
        ServiceDefaults {
            grace: Duration::from_secs(10),
            health_timeout: Duration::from_secs(60),
        }
    }
}

/// Per-call limits for plugins.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Wall-clock deadline of one call, host waits included.
    pub timeout: Duration,
    /// Linear memory a plugin instance may grow to, in bytes.
    pub memory: u64,
    /// Core instances the plugin's store may hold.
    pub instances: u32,
    /// Tables the plugin's store may hold.
    pub tables: u32,
    /// Resource handles (containers, services, WASI streams) the plugin may hold at once.
    pub resources: u32,
    /// Step and copy containers one call may start (exec-cache hits start none).
    pub containers: u32,
    /// Service containers one call may start.
    pub services: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(30),
            memory: 256 << 20,
            instances: 64,
            tables: 64,
            resources: 10_000,
            containers: 100,
            services: 20,
        }
    }
}

/// What a plugin may reach on the calling host.
#[derive(Clone, Debug)]
pub struct HostAccess {
    /// Glob patterns of the host names and addresses `host.service` may reach.
    services: Vec<glob::Pattern>,
    /// Whether the berth.toml named the services (else they are the loopback default).
    services_written: bool,
    /// Canonical roots `host.directory` may read below.
    pub directories: Vec<PathBuf>,
    /// Whether `up` may publish a service on the host's ports.
    pub up: bool,
}

impl Default for HostAccess {
    fn default() -> Self {
        HostAccess::new(&["localhost", "127.0.0.1", "::1"], true)
            .expect("the default patterns are valid")
    }
}

impl HostAccess {
    fn new(services: &[&str], up: bool) -> Result<HostAccess, glob::PatternError> {
        Ok(HostAccess {
            services: services
                .iter()
                .map(|p| glob::Pattern::new(p))
                .collect::<Result<_, _>>()?,
            services_written: false,
            directories: Vec::new(),
            up,
        })
    }

    /// This access for a tenant of `berth serve`: the loopback default is
    /// dropped, since the server's own local services are not a tenant's to
    /// reach; services a berth.toml names are kept.
    pub fn for_tenant(&self) -> HostAccess {
        HostAccess {
            services: if self.services_written {
                self.services.clone()
            } else {
                Vec::new()
            },
            ..self.clone()
        }
    }

    /// Refuses a host `host.service` may not reach, saying what it may.
    pub fn check_service(&self, host: &str) -> Result<(), String> {
        if self.services.iter().any(|p| p.matches(host)) {
            return Ok(());
        }
        let allowed: Vec<&str> = self.services.iter().map(glob::Pattern::as_str).collect();
        Err(format!(
            "host.service may not reach `{host}`: berth.toml [host] services allows {}",
            if allowed.is_empty() {
                "none".to_string()
            } else {
                allowed.join(", ")
            }
        ))
    }
}

impl Policy {
    /// Reads `explicit`, or `./berth.toml` when it exists, or uses defaults.
    pub fn load(explicit: Option<&Path>) -> Result<Policy, PolicyError> {
        let path = match explicit {
            Some(path) => path.to_path_buf(),
            None => {
                let default = PathBuf::from(CONFIG_FILE_NAME);
                if !default.exists() {
                    return Ok(Policy::default());
                }
                default
            }
        };
        let text = std::fs::read_to_string(&path).map_err(|source| PolicyError::Read {
            path: path.clone(),
            source,
        })?;
        Policy::parse(&text, &path)
    }

    /// Parses the text of a config file; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Policy, PolicyError> {
        let deserializer = toml::Deserializer::parse(text).map_err(|e| PolicyError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let file: ConfigFile =
            serde_path_to_error::deserialize(deserializer).map_err(|e| PolicyError::Invalid {
                path: path.to_path_buf(),
                key: e.path().to_string(),
                message: e.into_inner().message().to_string(),
            })?;
        file.validate(path)
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    images: ImagesSection,
    #[serde(default)]
    limits: LimitsSection,
    #[serde(default)]
    containers: ContainersSection,
    #[serde(default)]
    host: HostSection,
    #[serde(default)]
    services: ServicesSection,
    #[serde(default)]
    engine: EngineSection,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct EngineSection {
    timeout: Option<String>,
    reach: Option<String>,
    relay_image: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ServicesSection {
    grace: Option<String>,
    health_timeout: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ImagesSection {
    allow: Option<Vec<String>>,
    #[serde(default)]
    rewrite: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LimitsSection {
    timeout: Option<String>,
    memory: Option<String>,
    instances: Option<u32>,
    tables: Option<u32>,
    resources: Option<u32>,
    containers: Option<u32>,
    services: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ContainersSection {
    memory: Option<String>,
    cpus: Option<f64>,
    pids: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct HostSection {
    services: Option<Vec<String>>,
    #[serde(default)]
    directories: Vec<PathBuf>,
    up: Option<bool>,
}

impl ConfigFile {
    fn validate(self, path: &Path) -> Result<Policy, PolicyError> {
        let invalid = |key: &str, message: String| PolicyError::Invalid {
            path: path.to_path_buf(),
            key: key.to_string(),
            message,
        };
        // A duration setting: its default when absent; zero only when `zero_ok`.
        let duration = |text: Option<String>, key: &str, default: Duration, zero_ok: bool| {
            let Some(text) = text else {
                return Ok(default);
            };
            match parse_duration(&text) {
                Ok(value) if value.is_zero() && !zero_ok => {
                    Err(invalid(key, "must be greater than zero".into()))
                }
                Ok(value) => Ok(value),
                Err(message) => Err(invalid(key, message)),
            }
        };
        // A size setting: its default when absent, and at least `least` bytes.
        let size = |text: Option<String>, key: &str, default: u64, least: u64| {
            let value = match text {
                Some(text) => parse_size(&text).map_err(|m| invalid(key, m))?,
                None => default,
            };
            if value < least {
                return Err(invalid(key, format!("must be at least {}MiB", least >> 20)));
            }
            Ok(value)
        };
        let count = |value: Option<u32>, key: &str, default: u32| {
            count_setting(value, default).map_err(|m| invalid(key, m.into()))
        };
        let limits = Limits::default();
        let services = ServiceDefaults::default();
        let engine = EngineSettings::default();
        let containers = ContainerLimits::default();
        let host = HostAccess::default();

        let cpus = self.containers.cpus.unwrap_or(containers.cpus);
        if !(cpus.is_finite() && cpus >= 0.01) {
            return Err(invalid("containers.cpus", "must be at least 0.01".into()));
        }
        let host = match self.host.services {
            Some(patterns) => {
                let patterns: Vec<&str> = patterns.iter().map(String::as_str).collect();
                HostAccess {
                    services_written: true,
                    ..HostAccess::new(&patterns, self.host.up.unwrap_or(host.up))
                        .map_err(|e| invalid("host.services", e.to_string()))?
                }
            }
            None => HostAccess {
                up: self.host.up.unwrap_or(host.up),
                ..host
            },
        };
        // Roots are written relative to the config file, and kept canonical:
        // a root that is itself a link is resolved once, by the operator's word.
        let base = path.parent().unwrap_or(Path::new("."));
        let directories = self
            .host
            .directories
            .iter()
            .map(|root| {
                base.join(root)
                    .canonicalize()
                    .map_err(|e| invalid("host.directories", format!("{}: {e}", root.display())))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let host = HostAccess {
            directories,
            ..host
        };
        let images = ImagePolicy::new(self.images.allow, self.images.rewrite)
            .map_err(|(key, message)| invalid(&format!("images.{key}"), message))?;
        let relay_image = images.rewrite(
            self.engine
                .relay_image
                .as_deref()
                .unwrap_or(&engine.relay_image),
        );
        Ok(Policy {
            images,
            limits: Limits {
                timeout: duration(self.limits.timeout, "limits.timeout", limits.timeout, false)?,
                memory: size(self.limits.memory, "limits.memory", limits.memory, 1 << 20)?,
                instances: count(self.limits.instances, "limits.instances", limits.instances)?,
                tables: count(self.limits.tables, "limits.tables", limits.tables)?,
                resources: count(self.limits.resources, "limits.resources", limits.resources)?,
                containers: count(
                    self.limits.containers,
                    "limits.containers",
                    limits.containers,
                )?,
                services: count(self.limits.services, "limits.services", limits.services)?,
            },
            containers: ContainerLimits {
                // Docker refuses less than 6MiB.
                memory: size(
                    self.containers.memory,
                    "containers.memory",
                    containers.memory,
                    6 << 20,
                )?,
                cpus,
                pids: count(self.containers.pids, "containers.pids", containers.pids)?,
            },
            host,
            services: ServiceDefaults {
                grace: duration(self.services.grace, "services.grace", services.grace, true)?,
                health_timeout: duration(
                    self.services.health_timeout,
                    "services.health_timeout",
                    services.health_timeout,
                    false,
                )?,
            },
            engine: EngineSettings {
                timeout: duration(self.engine.timeout, "engine.timeout", engine.timeout, false)?,
                reach: match self.engine.reach.as_deref() {
                    None | Some("auto") => Reachability::Auto,
                    Some("relay") => Reachability::Relay,
                    Some(other) => {
                        return Err(invalid(
                            "engine.reach",
                            format!("`{other}` is neither \"auto\" nor \"relay\""),
                        ));
                    }
                },
                relay_image,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Policy, PolicyError> {
        Policy::parse(text, Path::new("berth.toml"))
    }

    #[test]
    fn empty_file_gives_the_safe_defaults() {
        let policy = parse("").unwrap();
        assert_eq!(policy.limits.timeout, Duration::from_secs(30));
        assert_eq!(policy.limits.memory, 256 << 20);
        assert_eq!(policy.containers, ContainerLimits::default());
        assert!(policy.host.check_service("localhost").is_ok());
        assert!(policy.host.check_service("10.0.0.1").is_err());
        assert!(policy.host.up);
        assert!(policy.images.check_allowed("anything:1").is_ok());
    }

    #[test]
    fn unknown_key_is_named() {
        let err = parse("[limits]\ntimeot = \"1s\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("limits"), "{err}");
        assert!(err.contains("timeot"), "{err}");
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            ("[limits]\ntimeout = \"soon\"\n", "limits.timeout"),
            ("[limits]\ncontainers = 0\n", "limits.containers"),
            ("[containers]\nmemory = \"1MiB\"\n", "containers.memory"),
            ("[containers]\ncpus = 0.0\n", "containers.cpus"),
            ("[host]\nservices = [\"[\"]\n", "host.services"),
            ("[images]\nallow = [\"[\"]\n", "images.allow"),
            (
                "[host]\ndirectories = [\"/no/such/root\"]\n",
                "host.directories",
            ),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn tenants_reach_no_host_service_unless_one_is_named() {
        let default = parse("").unwrap().host.for_tenant();
        assert!(default.check_service("127.0.0.1").is_err());
        let named = parse("[host]\nservices = [\"127.0.0.1\"]\n")
            .unwrap()
            .host
            .for_tenant();
        assert!(named.check_service("127.0.0.1").is_ok());
    }

    #[test]
    fn host_services_and_up_can_be_set() {
        let policy =
            parse("[host]\nservices = [\"db.internal\", \"10.1.*\"]\nup = false\n").unwrap();
        assert!(policy.host.check_service("10.1.2.3").is_ok());
        assert!(policy.host.check_service("db.internal").is_ok());
        let refused = policy.host.check_service("localhost").unwrap_err();
        assert_eq!(
            refused,
            "host.service may not reach `localhost`: berth.toml [host] services allows db.internal, 10.1.*"
        );
        assert!(!policy.host.up);
    }
}
