use std::path::PathBuf;

use super::Error;
use crate::backend::{KeptImage, StepOutput, reference};
use crate::spec::Digest;

/// Where exec caches keep their snapshots: `berth-cache/CACHE:STEP`.
const SNAPSHOT_REPOSITORY: &str = "berth-cache";

/// Whether `address` names an exec cache's snapshot, under any registry
/// (Podman may file the snapshots under `localhost/`). No plugin may ask
/// for one: a snapshot holds what some caller's steps wrote, and knowing
/// its name must not be enough to read it.
pub fn names_snapshot(address: &str) -> bool {
    let qualified = reference::qualify(reference::without_tag(address));
    qualified
        .split_once('/')
        .is_some_and(|(_, path)| path.starts_with(&format!("{SNAPSHOT_REPOSITORY}/")))
}

/// Results of exec steps on disk, one JSON file per step digest.
///
/// The snapshot image a record names carries a tag of the cache
/// ([`ExecCache::kept_image`]), so orphan reaping leaves it. It may have been
/// removed since (by `docker rmi` or `berth gc --all`); callers check it still
/// exists before using it.
#[derive(Clone, Debug)]
pub struct ExecCache {
    dir: PathBuf,
}

impl ExecCache {
    /// A cache stored in `dir` (created on first write).
    pub fn new(dir: PathBuf) -> Self {
        ExecCache { dir }
    }

    /// The directory the records live in.
    pub fn dir(&self) -> &PathBuf {
        &self.dir
    }

    /// The name the snapshot of step `key` is kept under on the engine:
    /// one repository per cache directory, one tag per step.
    pub fn kept_image(&self, key: &Digest) -> KeptImage {
        let dir = std::path::absolute(&self.dir).unwrap_or_else(|_| self.dir.clone());
        let dir_digest = blake3::hash(dir.as_os_str().as_encoded_bytes()).to_hex();
        KeptImage {
            repository: format!("{SNAPSHOT_REPOSITORY}/{}", &dir_digest[..12]),
            tag: key.to_hex(),
        }
    }

    fn path(&self, key: &Digest) -> PathBuf {
        self.dir.join(format!("{}.json", key.to_hex()))
    }

    /// The record of a step, if one was stored and is readable.
    pub fn get(&self, key: &Digest) -> Option<StepOutput> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The snapshot images the records name.
    pub fn snapshots(&self) -> Vec<crate::backend::ImageId> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|entry| std::fs::read(entry.path()).ok())
            .filter_map(|bytes| serde_json::from_slice::<StepOutput>(&bytes).ok())
            .filter_map(|output| output.snapshot)
            .collect()
    }

    /// Removes every record.
    pub fn clear(&self) -> std::io::Result<()> {
        match std::fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Stores a step's record, atomically replacing any older one.
    pub fn put(&self, key: &Digest, output: &StepOutput) -> Result<(), Error> {
        let path = self.path(key);
        let failed = |source| Error::Cache {
            path: path.clone(),
            source,
        };
        let json = serde_json::to_vec(output).map_err(|e| failed(e.into()))?;
        crate::atomic_file::write(&path, &json).map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_names_are_told_in_every_spelling() {
        for snapshot in [
            "berth-cache/0123456789ab:00ff",
            "berth-cache/0123456789ab",
            "docker.io/berth-cache/0123456789ab:00ff",
            "index.docker.io/berth-cache/0123456789ab:00ff",
            "localhost/berth-cache/0123456789ab:00ff",
            "berth-cache/0123456789ab@sha256:00ff",
        ] {
            assert!(names_snapshot(snapshot), "{snapshot}");
        }
        for image in ["busybox", "berth.local/busybox:latest", "me/berth-cache:1"] {
            assert!(!names_snapshot(image), "{image}");
        }
    }
    use crate::backend::ImageId;
    use crate::spec::CanonicalHasher;

    #[test]
    fn a_record_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ExecCache::new(dir.path().join("exec"));
        let key = CanonicalHasher::new("t").finish();
        assert!(cache.get(&key).is_none());
        let output = StepOutput {
            exit_code: 0,
            stdout: "out".into(),
            stderr: "err".into(),
            snapshot: Some(ImageId("sha256:1".into())),
        };
        cache.put(&key, &output).unwrap();
        assert_eq!(cache.get(&key), Some(output));
    }
}
