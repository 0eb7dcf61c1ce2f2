//! Settings from `berth.toml`, read and validated once at start-up.
//!
//! Every setting has a default, so a missing file is a valid configuration.
//! An unknown key or an out-of-range value is rejected with the key's path.
//!
//! ```toml
//! [images.rewrite]
//! "busybox" = "berth.local/busybox:latest"   # used instead, before resolving
//!
//! [limits]
//! timeout = "30s"      # wall-clock deadline of one call
//! memory = "256MiB"    # linear memory a plugin may grow to
//!
//! [services]
//! grace = "10s"            # how long an unused service keeps running
//! health_timeout = "60s"   # how long a service may take to become healthy
//!
//! [engine]
//! timeout = "60s"   # how long one engine request (create, inspect, remove) may take
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

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
    pub services: ServiceDefaults,
    pub engine: EngineSettings,
}

/// How berth talks to the container engine.
#[derive(Clone, Debug)]
pub struct EngineSettings {
    /// How long one short request may go unanswered before it fails.
    pub timeout: Duration,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            timeout: crate::backend::docker::DEFAULT_REQUEST_TIMEOUT,
        }
    }
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

/// Which image a reference really means.
#[derive(Clone, Debug, Default)]
pub struct ImagePolicy {
    rewrite: BTreeMap<String, String>,
}

impl ImagePolicy {
    /// An image policy with the given rewrite rules (keys are matched after normalizing tags).
    pub fn with_rewrites(rules: impl IntoIterator<Item = (String, String)>) -> Self {
        ImagePolicy {
            rewrite: rules
                .into_iter()
                .map(|(from, to)| (normalize_reference(&from), to))
                .collect(),
        }
    }

    /// The reference to resolve in place of `reference`.
    ///
    /// `busybox`, `busybox:latest` and `docker.io/library/busybox:latest` all
    /// match a rule written for any of them.
    pub fn rewrite(&self, reference: &str) -> String {
        self.rewrite
            .get(&normalize_reference(reference))
            .cloned()
            .unwrap_or_else(|| reference.to_string())
    }
}

/// Per-call limits for plugins.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Wall-clock deadline of one call.
    pub timeout: Duration,
    /// Linear memory a plugin instance may grow to, in bytes.
    pub memory: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(300),
            memory: 256 << 20,
        }
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
    services: ServicesSection,
    #[serde(default)]
    engine: EngineSection,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct EngineSection {
    timeout: Option<String>,
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
    #[serde(default)]
    rewrite: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LimitsSection {
    timeout: Option<String>,
    memory: Option<String>,
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
        let limits = Limits::default();
        let services = ServiceDefaults::default();
        let engine = EngineSettings::default();
        let memory = match self.limits.memory {
            Some(text) => parse_size(&text).map_err(|m| invalid("limits.memory", m))?,
            None => limits.memory,
        };
        if memory < (1 << 20) {
            return Err(invalid("limits.memory", "must be at least 1MiB".into()));
        }
        for (from, to) in &self.images.rewrite {
            if from.trim().is_empty() || to.trim().is_empty() {
                return Err(invalid(
                    &format!("images.rewrite.{from}"),
                    "image references must not be empty".into(),
                ));
            }
        }
        Ok(Policy {
            images: ImagePolicy::with_rewrites(self.images.rewrite),
            limits: Limits {
                timeout: duration(self.limits.timeout, "limits.timeout", limits.timeout, false)?,
                memory,
            },
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
            },
        })
    }
}

/// `busybox` -> `docker.io/library/busybox:latest`; references with a digest keep it.
fn normalize_reference(reference: &str) -> String {
    let (name, suffix) = match reference.split_once('@') {
        Some((name, digest)) => (name.to_string(), format!("@{digest}")),
        None => {
            let last_segment = reference.rsplit('/').next().unwrap_or(reference);
            if last_segment.contains(':') {
                let (name, tag) = reference.rsplit_once(':').unwrap_or((reference, "latest"));
                (name.to_string(), format!(":{tag}"))
            } else {
                (reference.to_string(), ":latest".to_string())
            }
        }
    };
    let first = name.split('/').next().unwrap_or("");
    let has_registry =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let qualified = if has_registry {
        name
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    };
    format!("{qualified}{suffix}")
}

/// Parses `500ms`, `30s`, `2m` or `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` needs a unit: ms, s, m or h"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 30s or 500ms"))?;
    let millis = match unit.trim() {
        "ms" => Some(number),
        "s" => number.checked_mul(1_000),
        "m" => number.checked_mul(60_000),
        "h" => number.checked_mul(3_600_000),
        other => {
            return Err(format!(
                "unknown duration unit `{other}` (use ms, s, m or h)"
            ));
        }
    };
    // A week is far beyond any sane deadline and keeps `Instant` arithmetic safe.
    const LONGEST: u64 = 7 * 24 * 3_600_000;
    match millis {
        Some(ms) if ms <= LONGEST => Ok(Duration::from_millis(ms)),
        _ => Err(format!("`{text}` is too long (at most a week)")),
    }
}

/// Parses `256MiB`, `1GiB`, `512KiB` or a plain byte count.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size like 256MiB"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit `{other}` (use B, KiB, MiB or GiB)"
            ));
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Policy, PolicyError> {
        Policy::parse(text, Path::new("berth.toml"))
    }

    #[test]
    fn empty_file_gives_defaults() {
        let policy = parse("").unwrap();
        assert_eq!(policy.limits.timeout, Limits::default().timeout);
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
    fn bad_value_names_its_key() {
        let err = parse("[limits]\ntimeout = \"soon\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("limits.timeout"), "{err}");
    }

    #[test]
    fn rewrites_match_any_spelling() {
        let policy = parse("[images.rewrite]\n\"busybox\" = \"local/busybox:1\"\n").unwrap();
        for spelling in [
            "busybox",
            "busybox:latest",
            "docker.io/library/busybox:latest",
        ] {
            assert_eq!(policy.images.rewrite(spelling), "local/busybox:1");
        }
        assert_eq!(policy.images.rewrite("busybox:2"), "busybox:2");
    }

    #[test]
    fn registry_with_port_is_not_a_tag() {
        assert_eq!(
            normalize_reference("127.0.0.1:5000/x"),
            "127.0.0.1:5000/x:latest"
        );
    }

    #[test]
    fn durations_and_sizes_parse() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5000000000000h").is_err());
        assert_eq!(parse_size("256MiB").unwrap(), 256 << 20);
        assert!(parse_size("1TB").is_err());
    }
}
