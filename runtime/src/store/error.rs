use std::path::PathBuf;

/// Why a plugin could not be installed, found, verified, pushed or pulled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(
        "`{0}` is not a plugin name: use lowercase letters, digits, `-`, `_` and `.`, starting with a letter or digit, at most 64, not ending in `.wasm`"
    )]
    BadName(String),

    #[error("`{0}` is not a plugin digest: write blake3: and 64 hex digits")]
    BadDigest(String),

    #[error(
        "`{0}` is not a plugin: write a path (with a `/` or ending in .wasm), NAME, NAME@VERSION (such as 1.2.0) or NAME@blake3:HEX (8 or more hex digits)"
    )]
    BadReference(String),

    #[error("no plugin {reference} is installed ({}); see `berth plugin list`", installed_list(.installed))]
    NotInstalled {
        reference: String,
        installed: Vec<String>,
    },

    #[error("{reference} could mean {}; give more digits of the digest", .matches.join(" or "))]
    AmbiguousDigest {
        reference: String,
        matches: Vec<String>,
    },

    #[error(
        "{id} is already installed with another component ({installed}, this one is {new}); give it a new version, or pass --force to replace it"
    )]
    VersionTaken {
        id: String,
        installed: String,
        new: String,
    },

    #[error(
        "refusing {id}: its stored component has digest {found}, but its manifest says {expected}; the store was changed outside berth, so install the plugin again"
    )]
    Integrity {
        id: String,
        expected: String,
        found: String,
    },

    #[error(
        "the plugin store's manifest {path} is unreadable ({message}); remove it and install the plugin again"
    )]
    CorruptManifest { path: PathBuf, message: String },

    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },

    /// The component failed validation.
    #[error(transparent)]
    Invalid(#[from] crate::wasm::Error),

    #[error("`{0}` is not an OCI reference: write oci://REGISTRY/REPOSITORY[:TAG|@sha256:DIGEST]")]
    BadOciReference(String),

    #[error("{action} {reference} failed: {message}")]
    Registry {
        action: &'static str,
        reference: String,
        message: String,
    },

    #[error("cannot use the credentials for {registry} in {}: {message}", path.display())]
    Credentials {
        registry: String,
        path: std::path::PathBuf,
        message: String,
    },

    #[error("{reference} is not a Wasm component artifact: {found}")]
    NotWasmArtifact { reference: String, found: String },

    #[error(
        "refusing {reference}: its component has digest {found}, but the artifact says {expected}"
    )]
    ArtifactDigest {
        reference: String,
        expected: String,
        found: String,
    },
}

fn installed_list(installed: &[String]) -> String {
    if installed.is_empty() {
        "none is".to_string()
    } else {
        format!("installed: {}", installed.join(", "))
    }
}
