//! The plugin store: components kept by the blake3 digest of their bytes,
//! each beside a manifest, so a plugin is called by name, version or digest
//! and is verified every time it is read.
//!
//! Layout under the store's directory:
//! - `components/<hex>.wasm`: a component, exactly as installed, kept once
//!   however many plugins it is installed as;
//! - `manifests/<name>@<version>.json`: each plugin's [`Manifest`], which
//!   names its component by digest.

mod credentials;
mod error;
pub mod manifest;
pub mod oci;
mod reference;

use std::path::{Path, PathBuf};

use tracing::{info, instrument};

pub use error::Error;
pub use manifest::{Digest, Manifest, Needs, PluginMetadata};
pub use reference::{Pin, PluginRef, PluginSource};

use crate::wasm::Runtime;

/// Installed plugins under one directory.
#[derive(Clone, Debug)]
pub struct PluginStore {
    dir: PathBuf,
}

impl PluginStore {
    /// The store in `dir` (created on first install).
    pub fn new(dir: PathBuf) -> PluginStore {
        PluginStore { dir }
    }

    /// Validates `bytes` as a berth plugin and stores it with its manifest.
    ///
    /// Installing the same component again under the same name and version
    /// only updates its manifest; under another name or version it adds a
    /// plugin that shares the stored component. A name and version already
    /// installed with another component is refused unless `replace` is set,
    /// which removes the other one.
    #[instrument(skip(self, runtime, bytes), fields(plugin = %metadata.name, version = %metadata.version), err(level = "debug"))]
    pub fn install(
        &self,
        runtime: &Runtime,
        bytes: &[u8],
        metadata: PluginMetadata,
        replace: bool,
    ) -> Result<Manifest, Error> {
        metadata.validate()?;
        let id = format!("{}@{}", metadata.name, metadata.version);
        let plugin = runtime.load_bytes(&id, bytes)?;
        let manifest = Manifest {
            metadata,
            digest: Digest::of(bytes),
            size: bytes.len() as u64,
            functions: plugin.functions().to_vec(),
            imports: plugin.imports().to_vec(),
        };
        let replaced = self
            .list()?
            .into_iter()
            .find(|m| m.id() == id && m.digest != manifest.digest);
        if let Some(installed) = replaced.as_ref().filter(|_| !replace) {
            return Err(Error::VersionTaken {
                id,
                installed: installed.digest.to_string(),
                new: manifest.digest.to_string(),
            });
        }
        self.put(&manifest, bytes)?;
        if let Some(replaced) = replaced {
            self.delete_unused_component(&replaced.digest)?;
        }
        info!(digest = %manifest.digest, "installed");
        Ok(manifest)
    }

    /// Writes a component and then its manifest, which makes it visible.
    fn put(&self, manifest: &Manifest, bytes: &[u8]) -> Result<(), Error> {
        write_atomically(&self.component_path(&manifest.digest), bytes)?;
        let path = self.manifest_path(manifest);
        let json = serde_json::to_vec_pretty(manifest).map_err(|e| Error::CorruptManifest {
            path: path.clone(),
            message: e.to_string(),
        })?;
        write_atomically(&path, &json)
    }

    /// The bytes the distinct components of the store take.
    pub fn size(&self) -> Result<u64, Error> {
        let mut components: Vec<(Digest, u64)> = self
            .list()?
            .into_iter()
            .map(|m| (m.digest, m.size))
            .collect();
        components.sort();
        components.dedup();
        Ok(components.iter().map(|(_, size)| size).sum())
    }

    /// Whether the store holds the component `digest`, as some plugin.
    pub fn holds(&self, digest: &Digest) -> Result<bool, Error> {
        Ok(self.list()?.iter().any(|m| &m.digest == digest))
    }

    /// Every installed plugin, by name, then version.
    pub fn list(&self) -> Result<Vec<Manifest>, Error> {
        let dir = self.dir.join("manifests");
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(io("listing", &dir, source)),
        };
        let mut manifests = Vec::new();
        for entry in entries {
            let path = entry.map_err(|source| io("listing", &dir, source))?.path();
            if path.extension().is_some_and(|e| e == "json") {
                manifests.push(read_manifest(&path)?);
            }
        }
        manifests.sort_by(|a, b| {
            (&a.metadata.name, &a.metadata.version).cmp(&(&b.metadata.name, &b.metadata.version))
        });
        Ok(manifests)
    }

    /// The installed plugin `reference` means: for a bare name, the highest version.
    pub fn resolve(&self, reference: &PluginRef) -> Result<Manifest, Error> {
        let installed = self.list()?;
        let mut matches: Vec<Manifest> = installed
            .iter()
            .filter(|m| reference.matches(m))
            .cloned()
            .collect();
        let components = |matches: &[Manifest]| {
            let mut digests: Vec<&Digest> = matches.iter().map(|m| &m.digest).collect();
            digests.sort();
            digests.dedup();
            digests.len()
        };
        if components(&matches) > 1 && matches!(reference.pin, Pin::Digest(_)) {
            return Err(Error::AmbiguousDigest {
                reference: reference.to_string(),
                matches: matches.iter().map(|m| m.digest.to_string()).collect(),
            });
        }
        matches.pop().ok_or_else(|| Error::NotInstalled {
            reference: reference.to_string(),
            installed: installed.iter().map(Manifest::id).collect(),
        })
    }

    /// The component of an installed plugin, refused unless its bytes have
    /// the digest its manifest names.
    pub fn read(&self, manifest: &Manifest) -> Result<Vec<u8>, Error> {
        let path = self.component_path(&manifest.digest);
        let bytes = std::fs::read(&path).map_err(|source| io("reading", &path, source))?;
        let found = Digest::of(&bytes);
        if found != manifest.digest {
            return Err(Error::Integrity {
                id: manifest.id(),
                expected: manifest.digest.to_string(),
                found: found.to_string(),
            });
        }
        Ok(bytes)
    }

    /// Loads an installed plugin, verified, for calling.
    pub fn load(
        &self,
        runtime: &Runtime,
        reference: &PluginRef,
    ) -> Result<crate::wasm::Plugin, Error> {
        let manifest = self.resolve(reference)?;
        let bytes = self.read(&manifest)?;
        Ok(runtime.load_bytes(&manifest.id(), &bytes)?)
    }

    /// Removes the plugin `reference` means, and returns its manifest.
    pub fn remove(&self, reference: &PluginRef) -> Result<Manifest, Error> {
        let manifest = self.resolve(reference)?;
        self.delete(&manifest)?;
        Ok(manifest)
    }

    /// Removes a plugin's manifest, then its component unless another
    /// plugin is the same component.
    fn delete(&self, manifest: &Manifest) -> Result<(), Error> {
        // The manifest goes first: a component without one is invisible.
        remove_file(&self.manifest_path(manifest))?;
        self.delete_unused_component(&manifest.digest)
    }

    fn delete_unused_component(&self, digest: &Digest) -> Result<(), Error> {
        if self.holds(digest)? {
            return Ok(());
        }
        remove_file(&self.component_path(digest))
    }

    fn component_path(&self, digest: &Digest) -> PathBuf {
        self.dir
            .join("components")
            .join(format!("{}.wasm", digest.hex()))
    }

    fn manifest_path(&self, manifest: &Manifest) -> PathBuf {
        self.dir
            .join("manifests")
            .join(format!("{}.json", manifest.id()))
    }
}

/// Reads a manifest, which must be named by the name and version it holds.
fn read_manifest(path: &Path) -> Result<Manifest, Error> {
    let corrupt = |message: String| Error::CorruptManifest {
        path: path.to_path_buf(),
        message,
    };
    let json = std::fs::read(path).map_err(|source| io("reading", path, source))?;
    let manifest: Manifest = serde_json::from_slice(&json).map_err(|e| corrupt(e.to_string()))?;
    let named = path.file_stem().and_then(|s| s.to_str()) == Some(manifest.id().as_str());
    if !named {
        return Err(corrupt(format!(
            "it is {}, but its file name says otherwise",
            manifest.id()
        )));
    }
    Ok(manifest)
}

/// Removes a file; one already gone counts as removed.
fn remove_file(path: &Path) -> Result<(), Error> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("removing", path, e)),
        _ => Ok(()),
    }
}

/// Writes a file whole or not at all: a reader never sees half a component.
fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), Error> {
    crate::atomic_file::write(path, contents).map_err(|source| io("writing", path, source))
}

fn io(action: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(store: &PluginStore, name: &str, version: &str, bytes: &[u8]) -> Manifest {
        let manifest = Manifest {
            metadata: PluginMetadata {
                name: name.into(),
                version: version.parse().unwrap(),
                description: String::new(),
                needs: Needs::default(),
            },
            digest: Digest::of(bytes),
            size: bytes.len() as u64,
            functions: Vec::new(),
            imports: Vec::new(),
        };
        store.put(&manifest, bytes).unwrap();
        manifest
    }

    #[test]
    fn a_bare_name_means_the_highest_version_and_a_digest_prefix_one_component() {
        let dir = tempfile::tempdir().unwrap();
        let store = PluginStore::new(dir.path().to_path_buf());
        stored(&store, "greet", "0.9.0", b"a");
        let highest = stored(&store, "greet", "0.10.0", b"b");
        stored(&store, "other", "9.0.0", b"c");
        assert_eq!(store.resolve(&"greet".parse().unwrap()).unwrap(), highest);
        let by_digest = format!("greet@blake3:{}", &highest.digest.hex()[..8]);
        assert_eq!(store.resolve(&by_digest.parse().unwrap()).unwrap(), highest);
        assert_eq!(
            store
                .resolve(&"greet@0.9.0".parse().unwrap())
                .unwrap()
                .metadata
                .version,
            semver::Version::new(0, 9, 0)
        );
        let missing = store.resolve(&"greet@1.0.0".parse().unwrap()).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "no plugin greet@1.0.0 is installed (installed: greet@0.9.0, greet@0.10.0, other@9.0.0); see `berth plugin list`"
        );
    }

    #[test]
    fn a_component_that_does_not_match_its_manifest_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = PluginStore::new(dir.path().to_path_buf());
        let manifest = stored(&store, "greet", "1.0.0", b"component");
        assert_eq!(store.read(&manifest).unwrap(), b"component");
        std::fs::write(store.component_path(&manifest.digest), b"tampered").unwrap();
        let refused = store.read(&manifest).unwrap_err();
        assert!(matches!(refused, Error::Integrity { .. }), "{refused}");
    }

    #[test]
    fn a_manifest_under_another_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = PluginStore::new(dir.path().to_path_buf());
        let manifest = stored(&store, "greet", "1.0.0", b"component");
        let elsewhere = store
            .manifest_path(&manifest)
            .with_file_name("greet@2.0.0.json");
        std::fs::rename(store.manifest_path(&manifest), &elsewhere).unwrap();
        assert!(matches!(store.list(), Err(Error::CorruptManifest { .. })));
    }

    #[test]
    fn one_component_installed_as_two_versions_is_kept_once_for_both() {
        let dir = tempfile::tempdir().unwrap();
        let store = PluginStore::new(dir.path().to_path_buf());
        let first = stored(&store, "greet", "1.0.0", b"same");
        let second = stored(&store, "greet", "1.0.1", b"same");
        stored(&store, "other", "1.0.0", b"other");
        assert_eq!(store.list().unwrap().len(), 3);
        assert_eq!(store.size().unwrap(), 4 + 5);
        let by_digest = format!("greet@blake3:{}", &first.digest.hex()[..8]);
        assert_eq!(store.resolve(&by_digest.parse().unwrap()).unwrap(), second);
        store.remove(&"greet@1.0.1".parse().unwrap()).unwrap();
        assert_eq!(store.read(&first).unwrap(), b"same");
        store.remove(&"greet@1.0.0".parse().unwrap()).unwrap();
        assert!(!store.component_path(&first.digest).exists());
    }

    #[test]
    fn removing_leaves_the_other_versions() {
        let dir = tempfile::tempdir().unwrap();
        let store = PluginStore::new(dir.path().to_path_buf());
        stored(&store, "greet", "1.0.0", b"a");
        let kept = stored(&store, "greet", "2.0.0", b"b");
        store.remove(&"greet@1.0.0".parse().unwrap()).unwrap();
        assert_eq!(store.list().unwrap(), vec![kept]);
    }
}
