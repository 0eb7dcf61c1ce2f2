//! The tenants file `berth serve` reads: who may call, with which token,
//! under which policy, and with which quotas.
//!
//! ```toml
//! [[tenant]]
//! name = "acme"                 # lowercase letters, digits and `-`
//! token = "a-long-random-secret" # its bearer token, 16 visible ASCII characters or more
//! config = "acme.toml"          # its berth.toml (default: the server's), relative to this file
//! [tenant.quota]
//! calls = 4                     # calls at once
//! containers = 20               # containers running at once
//! storage = "256MiB"            # plugins stored
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::policy::{Policy, count_setting, parse_size};

/// The shortest token accepted: a guessable token is no authentication.
const MIN_TOKEN_LENGTH: usize = 16;

/// Why the tenants file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TenantsError {
    #[error("cannot read tenants file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("tenants file {}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("tenants file {}: tenant `{tenant}`: {source}", path.display())]
    Policy {
        path: PathBuf,
        tenant: String,
        source: crate::policy::PolicyError,
    },
}

/// What a tenant may do at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Calls running at once; more are refused with 429.
    pub calls: u32,
    /// Containers running at once, across the tenant's calls and services.
    pub containers: u32,
    /// Bytes of plugins stored.
    pub storage: u64,
}

impl Default for Quota {
    fn default() -> Self {
        Quota {
            calls: 4,
            containers: 20,
            storage: 256 << 20,
        }
    }
}

/// One tenant, as configured.
#[derive(Clone, Debug)]
pub struct TenantConfig {
    pub name: String,
    /// blake3 of the token: compared in constant time, never kept in clear.
    pub token_hash: blake3::Hash,
    pub policy: Arc<Policy>,
    pub quota: Quota,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantsFile {
    #[serde(default)]
    tenant: Vec<TenantEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantEntry {
    name: String,
    token: String,
    config: Option<PathBuf>,
    #[serde(default)]
    quota: QuotaEntry,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct QuotaEntry {
    calls: Option<u32>,
    containers: Option<u32>,
    storage: Option<String>,
}

/// Reads the tenants file; a tenant without `config` gets `server_policy`.
pub fn load(path: &Path, server_policy: &Arc<Policy>) -> Result<Vec<TenantConfig>, TenantsError> {
    let text = std::fs::read_to_string(path).map_err(|source| TenantsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let invalid = |message: String| TenantsError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let file: TenantsFile = toml::from_str(&text).map_err(|e| invalid(e.message().to_string()))?;
    if file.tenant.is_empty() {
        return Err(invalid("no [[tenant]] is listed".into()));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mut tenants: Vec<TenantConfig> = Vec::new();
    for entry in file.tenant {
        let name = entry.name;
        let well_formed = !name.is_empty()
            && name.len() <= 32
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !name.starts_with('-');
        if !well_formed {
            return Err(invalid(format!(
                "`{name}` is not a tenant name: use lowercase letters, digits and `-`, 32 at most"
            )));
        }
        if entry.token.len() < MIN_TOKEN_LENGTH {
            return Err(invalid(format!(
                "tenant `{name}`: the token must have {MIN_TOKEN_LENGTH} characters or more"
            )));
        }
        // Only these can travel in an Authorization header.
        if !entry.token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid(format!(
                "tenant `{name}`: the token must be visible ASCII characters (no spaces)"
            )));
        }
        let token_hash = blake3::hash(entry.token.as_bytes());
        if let Some(other) = tenants
            .iter()
            .find(|t| t.name == name || t.token_hash == token_hash)
        {
            return Err(invalid(format!(
                "tenants `{}` and `{name}` share a name or a token",
                other.name
            )));
        }
        let policy = match entry.config {
            Some(config) => Arc::new(Policy::load(Some(&base.join(config))).map_err(|source| {
                TenantsError::Policy {
                    path: path.to_path_buf(),
                    tenant: name.clone(),
                    source,
                }
            })?),
            None => server_policy.clone(),
        };
        // How the engine is reached is the server's to say: every tenant
        // shares its one backend, whatever `[engine]` a tenant's config has.
        let policy = Arc::new(Policy {
            host: policy.host.for_tenant(),
            images: policy.images.for_tenant(),
            engine: server_policy.engine.clone(),
            ..(*policy).clone()
        });
        let defaults = Quota::default();
        let count = |value: Option<u32>, key: &str, default: u32| {
            count_setting(value, default)
                .map_err(|m| invalid(format!("tenant `{name}`: quota.{key} {m}")))
        };
        let quota = Quota {
            calls: count(entry.quota.calls, "calls", defaults.calls)?,
            containers: count(entry.quota.containers, "containers", defaults.containers)?,
            storage: match entry.quota.storage {
                Some(text) => parse_size(&text)
                    .map_err(|m| invalid(format!("tenant `{name}`: quota.storage: {m}")))?,
                None => defaults.storage,
            },
        };
        tenants.push(TenantConfig {
            name,
            token_hash,
            policy,
            quota,
        });
    }
    Ok(tenants)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Vec<TenantConfig>, TenantsError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tenants.toml");
        std::fs::write(&path, text).unwrap();
        load(&path, &Arc::new(Policy::default()))
    }

    #[test]
    fn tenants_get_default_quotas_and_hashed_tokens() {
        let tenants = load_text(
            "[[tenant]]\nname = \"acme\"\ntoken = \"0123456789abcdef\"\n[tenant.quota]\ncalls = 2\nstorage = \"1MiB\"\n",
        )
        .unwrap();
        assert_eq!(tenants[0].name, "acme");
        assert_eq!(tenants[0].token_hash, blake3::hash(b"0123456789abcdef"));
        assert_eq!(
            tenants[0].quota,
            Quota {
                calls: 2,
                containers: 20,
                storage: 1 << 20
            }
        );
    }

    #[test]
    fn short_tokens_shared_tokens_and_bad_names_are_refused() {
        for text in [
            "[[tenant]]\nname = \"acme\"\ntoken = \"short\"\n",
            "[[tenant]]\nname = \"Acme\"\ntoken = \"0123456789abcdef\"\n",
            "[[tenant]]\nname = \"a\"\ntoken = \"0123456789abcdef\"\n[[tenant]]\nname = \"b\"\ntoken = \"0123456789abcdef\"\n",
            "[[tenant]]\nname = \"a\"\ntoken = \"0123456789abcdef\"\n[tenant.quota]\ncalls = 0\n",
            "[[tenant]]\nname = \"a\"\ntoken = \"pässwörd-0123456789\"\n",
            "[[tenant]]\nname = \"a\"\ntoken = \"a token with spaces\"\n",
            "",
        ] {
            assert!(load_text(text).is_err(), "{text}");
        }
    }
}
