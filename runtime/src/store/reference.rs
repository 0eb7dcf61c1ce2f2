//! How a plugin is named on the command line: a path, or a stored plugin.

use std::fmt;
use std::path::PathBuf;

use super::Error;
use super::manifest::{Manifest, validate_name};

/// The shortest digest prefix accepted after `@blake3:`.
const MIN_DIGEST_PREFIX: usize = 8;

/// A plugin to load: a file, or one from the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PluginSource {
    /// A component file (anything with a `/` or ending in `.wasm`).
    Path(PathBuf),
    /// An installed plugin.
    Stored(PluginRef),
}

impl PluginSource {
    /// Reads `greet`, `greet@1.2.0`, `greet@blake3:1a2b3c4d` or a path.
    ///
    /// Plugin names contain no `/` and never end in `.wasm`, so the two never
    /// overlap and the meaning does not depend on the current directory.
    pub fn parse(text: &str) -> Result<PluginSource, Error> {
        if text.contains('/') || text.ends_with(".wasm") {
            return Ok(PluginSource::Path(PathBuf::from(text)));
        }
        text.parse().map(PluginSource::Stored)
    }
}

/// A stored plugin: `NAME`, `NAME@VERSION` or `NAME@blake3:HEX` (a prefix of 8 or more digits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginRef {
    pub name: String,
    pub pin: Pin,
}

/// Which of a name's installed plugins a reference means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pin {
    /// The highest version.
    Latest,
    /// This version.
    Version(semver::Version),
    /// The one whose digest starts with these hex digits.
    Digest(String),
}

impl std::str::FromStr for PluginRef {
    type Err = Error;

    fn from_str(text: &str) -> Result<PluginRef, Error> {
        let (name, pin) = match text.split_once('@') {
            None => (text, Pin::Latest),
            Some((name, pin)) => (name, parse_pin(text, pin)?),
        };
        validate_name(name)?;
        Ok(PluginRef {
            name: name.to_string(),
            pin,
        })
    }
}

fn parse_pin(reference: &str, pin: &str) -> Result<Pin, Error> {
    let bad = || Error::BadReference(reference.to_string());
    if let Some(hex) = pin.strip_prefix("blake3:") {
        let valid = hex.len() >= MIN_DIGEST_PREFIX
            && hex.len() <= 64
            && hex.chars().all(|c| c.is_ascii_hexdigit());
        return valid
            .then(|| Pin::Digest(hex.to_ascii_lowercase()))
            .ok_or_else(bad);
    }
    semver::Version::parse(pin)
        .map(Pin::Version)
        .map_err(|_| bad())
}

impl PluginRef {
    /// Whether `manifest` is one this reference could mean (before picking the latest).
    pub fn matches(&self, manifest: &Manifest) -> bool {
        manifest.metadata.name == self.name
            && match &self.pin {
                Pin::Latest => true,
                Pin::Version(version) => &manifest.metadata.version == version,
                Pin::Digest(prefix) => manifest.digest.hex().starts_with(prefix.as_str()),
            }
    }
}

impl fmt::Display for PluginRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pin {
            Pin::Latest => write!(f, "{}", self.name),
            Pin::Version(version) => write!(f, "{}@{version}", self.name),
            Pin::Digest(prefix) => write!(f, "{}@blake3:{prefix}", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(name: &str, pin: Pin) -> PluginSource {
        PluginSource::Stored(PluginRef {
            name: name.into(),
            pin,
        })
    }

    #[test]
    fn paths_and_references_never_overlap() {
        assert_eq!(
            PluginSource::parse("greet.wasm").unwrap(),
            PluginSource::Path("greet.wasm".into())
        );
        assert_eq!(
            PluginSource::parse("./greet").unwrap(),
            PluginSource::Path("./greet".into())
        );
        assert_eq!(
            PluginSource::parse("greet").unwrap(),
            stored("greet", Pin::Latest)
        );
        assert_eq!(
            PluginSource::parse("greet@1.2.0").unwrap(),
            stored("greet", Pin::Version(semver::Version::new(1, 2, 0)))
        );
        assert_eq!(
            PluginSource::parse("greet@blake3:1A2B3C4D").unwrap(),
            stored("greet", Pin::Digest("1a2b3c4d".into()))
        );
    }

    #[test]
    fn malformed_references_are_refused() {
        for bad in [
            "greet@",
            "greet@1.2",
            "greet@blake3:123",
            "greet@sha256:12345678",
            "Greet",
        ] {
            assert!(PluginSource::parse(bad).is_err(), "{bad}");
        }
    }
}
