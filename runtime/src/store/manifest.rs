//! What a stored plugin is: the metadata its author declares, and the
//! manifest berth writes beside its component when it installs it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::Error;
use crate::policy::ImagePolicy;
use crate::wasm::signature::FunctionSignature;

/// What a plugin's author declares about it, in `berth-plugin.toml` or in
/// the annotations of an OCI artifact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginMetadata {
    /// The name plugins are called by: lowercase letters, digits, `-`, `_` and `.`.
    pub name: String,
    /// A semantic version; `berth call NAME` picks the highest installed.
    pub version: semver::Version,
    /// One line on what the plugin does.
    #[serde(default)]
    pub description: String,
    /// What the plugin needs from the host.
    #[serde(default)]
    pub needs: Needs,
}

/// What a plugin declares it needs from the host it runs on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Needs {
    /// The images its containers start from, as the plugin names them.
    #[serde(default)]
    pub images: Vec<String>,
}

impl Needs {
    /// Refuses needs that `images` would refuse at call time, naming the
    /// first image it does not allow and what it allows.
    pub fn check(&self, images: &ImagePolicy) -> Result<(), String> {
        self.images
            .iter()
            .try_for_each(|image| images.check_allowed(image))
    }
}

impl PluginMetadata {
    /// Checks the name (the version is checked by its type).
    pub fn validate(&self) -> Result<(), Error> {
        validate_name(&self.name)
    }
}

/// Names a plugin can be stored and called by. They never look like a path
/// (no `/`, no `.wasm` ending), so `berth call` can tell the two apart.
pub fn validate_name(name: &str) -> Result<(), Error> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c);
    let well_formed = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(allowed)
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && !name.ends_with(".wasm");
    if well_formed {
        Ok(())
    } else {
        Err(Error::BadName(name.to_string()))
    }
}

/// The blake3 digest of a component's bytes, written `blake3:<64 hex>`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(String);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(blake3::hash(bytes).to_hex().to_string())
    }

    /// The 64 hex digits, without the `blake3:` prefix.
    pub fn hex(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "blake3:{}", self.0)
    }
}

impl FromStr for Digest {
    type Err = Error;

    fn from_str(text: &str) -> Result<Digest, Error> {
        let hex = text
            .strip_prefix("blake3:")
            .filter(|hex| hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()))
            .ok_or_else(|| Error::BadDigest(text.to_string()))?;
        Ok(Digest(hex.to_ascii_lowercase()))
    }
}

impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Digest, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The manifest of an installed plugin: its metadata, the digest that names
/// its component, and what validation found in the component.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(flatten)]
    pub metadata: PluginMetadata,
    /// The blake3 digest of the component; the store refuses a file that does not match it.
    pub digest: Digest,
    /// The component's size in bytes.
    pub size: u64,
    /// The exported functions with their WIT signatures.
    pub functions: Vec<FunctionSignature>,
    /// What the component imports (berth:core and WASI only).
    pub imports: Vec<String>,
}

impl Manifest {
    /// `NAME@VERSION`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.metadata.name, self.metadata.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_be_paths_are_refused() {
        for good in ["greet", "greet-rust", "a.b_c", "x1"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Greet", "a/b", "greet.wasm", "-x", ".x", "a@b", "a b"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn digests_round_trip_and_refuse_other_algorithms() {
        let digest = Digest::of(b"component");
        assert_eq!(digest.to_string().parse::<Digest>().unwrap(), digest);
        assert!("sha256:00".parse::<Digest>().is_err());
        assert!(
            format!("blake3:{}", "g".repeat(64))
                .parse::<Digest>()
                .is_err()
        );
    }
}
