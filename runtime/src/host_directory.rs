//! Host directories a plugin may read: only below the roots the policy
//! grants (`[host] directories`), opened through cap-std, so that neither
//! `..` nor a symbolic link leads outside a root. A directory is read once,
//! into a snapshot whose content digest names it.

use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use cap_std::fs::{Dir, PermissionsExt};

/// The most a snapshot may hold; a plugin cannot make berth read a whole disk.
pub const MAX_SNAPSHOT_BYTES: u64 = 256 << 20;

/// How deep a snapshot follows folders (and links to folders, which could loop).
const MAX_DEPTH: usize = 32;

/// Why a host directory could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("host directory `{path}` is not under a root granted in berth.toml ({})", roots_list(.roots))]
    NotGranted { path: String, roots: Vec<PathBuf> },

    #[error("host directory `{path}` leads outside the granted root {}: {reason}", root.display())]
    Escapes {
        path: String,
        root: PathBuf,
        reason: String,
    },

    #[error("host directory `{path}` cannot be read: {source}")]
    Unreadable {
        path: String,
        source: std::io::Error,
    },

    #[error("host directory `{path}` holds more than {} MiB, the most berth copies", MAX_SNAPSHOT_BYTES >> 20)]
    TooLarge { path: String },
}

fn roots_list(roots: &[PathBuf]) -> String {
    if roots.is_empty() {
        return "none are granted".to_string();
    }
    let roots: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
    format!("granted: {}", roots.join(", "))
}

/// One file of a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotFile {
    /// Its path below the directory, with `/` separators.
    pub relative: String,
    pub contents: Arc<[u8]>,
    /// Unix permission bits.
    pub permissions: u32,
}

/// The files of a host directory, read once, with their content digest.
#[derive(Clone, Debug)]
pub struct DirectorySnapshot {
    /// Every file below the directory, sorted by path.
    pub files: Vec<SnapshotFile>,
    /// `blake3:<hex>` over every file's path, permissions and contents.
    pub digest: String,
}

/// Reads the directory at `path` (absolute, or relative to the current
/// directory) if it lies below one of `roots` (absolute, canonical paths).
pub fn snapshot(roots: &[PathBuf], path: &str) -> Result<DirectorySnapshot, Error> {
    let requested = Path::new(path);
    let absolute = if requested.is_absolute() {
        requested.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|source| Error::Unreadable {
                path: path.to_string(),
                source,
            })?
            .join(requested)
    };
    // The prefix test is lexical; cap-std then resolves the rest inside the root.
    let (root, below) = roots
        .iter()
        .find_map(|root| absolute.strip_prefix(root).ok().map(|below| (root, below)))
        .ok_or_else(|| Error::NotGranted {
            path: path.to_string(),
            roots: roots.to_vec(),
        })?;
    let escapes = |reason: String| Error::Escapes {
        path: path.to_string(),
        root: root.clone(),
        reason,
    };
    if below.components().any(|c| c == Component::ParentDir) {
        return Err(escapes("it goes up with `..`".into()));
    }
    let unreadable = |source| Error::Unreadable {
        path: path.to_string(),
        source,
    };
    // Every path below is resolved against the root's handle, so a link may
    // lead anywhere inside the root, and nowhere outside it.
    let root_dir = Dir::open_ambient_dir(root, cap_std::ambient_authority()).map_err(unreadable)?;
    let start = if below.as_os_str().is_empty() {
        Path::new(".")
    } else {
        below
    };
    let mut walk = Walk {
        root: &root_dir,
        files: Vec::new(),
        bytes: 0,
    };
    walk.dir(start, "", 0).map_err(|failure| match failure {
        WalkError::Io(e) => classify(e, &escapes, &unreadable),
        WalkError::TooLarge => Error::TooLarge {
            path: path.to_string(),
        },
        WalkError::TooDeep(at) => escapes(format!(
            "`{at}` is more than {MAX_DEPTH} folders deep (a link loop?)"
        )),
    })?;
    let mut files = walk.files;
    files.sort_by(|a, b| a.relative.cmp(&b.relative));
    let digest = digest(&files);
    Ok(DirectorySnapshot { files, digest })
}

/// cap-std refuses a path that would leave the root with PermissionDenied;
/// that is an escape, anything else a plain read failure.
fn classify(
    error: std::io::Error,
    escapes: &dyn Fn(String) -> Error,
    unreadable: &dyn Fn(std::io::Error) -> Error,
) -> Error {
    if error.kind() == std::io::ErrorKind::PermissionDenied {
        escapes(error.to_string())
    } else {
        unreadable(error)
    }
}

enum WalkError {
    Io(std::io::Error),
    TooLarge,
    TooDeep(String),
}

impl From<std::io::Error> for WalkError {
    fn from(error: std::io::Error) -> Self {
        WalkError::Io(error)
    }
}

struct Walk<'a> {
    root: &'a Dir,
    files: Vec<SnapshotFile>,
    bytes: u64,
}

impl Walk<'_> {
    /// Adds every file below `dir` (a path below the root), following links.
    fn dir(&mut self, dir: &Path, prefix: &str, depth: usize) -> Result<(), WalkError> {
        if depth > MAX_DEPTH {
            return Err(WalkError::TooDeep(prefix.to_string()));
        }
        // A folder that is not there, or that a link outside the root names, fails here.
        self.root.metadata(dir)?;
        for entry in self.root.read_dir(dir)? {
            let name = entry?.file_name();
            let name_text = name.to_string_lossy();
            let relative = if prefix.is_empty() {
                name_text.into_owned()
            } else {
                format!("{prefix}/{name_text}")
            };
            let path = dir.join(&name);
            // `metadata` follows a link, and fails if it leads outside the root.
            let metadata = self.root.metadata(&path)?;
            if metadata.is_dir() {
                self.dir(&path, &relative, depth + 1)?;
            } else if metadata.is_file() {
                // Read through the room left, not the size seen: a file can
                // grow between the two (a log under a granted root).
                let room = MAX_SNAPSHOT_BYTES - self.bytes;
                let mut contents = Vec::new();
                self.root
                    .open(&path)?
                    .take(room + 1)
                    .read_to_end(&mut contents)?;
                self.bytes += contents.len() as u64;
                if self.bytes > MAX_SNAPSHOT_BYTES {
                    return Err(WalkError::TooLarge);
                }
                self.files.push(SnapshotFile {
                    relative,
                    contents: contents.into(),
                    permissions: metadata.permissions().mode() & 0o7777,
                });
            }
            // Sockets, fifos and devices have no contents to copy.
        }
        Ok(())
    }
}

/// blake3 over each file's path, permissions, length and contents, in path order.
fn digest(files: &[SnapshotFile]) -> String {
    let mut hasher = blake3::Hasher::new();
    for file in files {
        hasher.update(file.relative.as_bytes());
        hasher.update(&[0]);
        hasher.update(&file.permissions.to_le_bytes());
        hasher.update(&(file.contents.len() as u64).to_le_bytes());
        hasher.update(&file.contents);
    }
    format!("blake3:{}", hasher.finalize().to_hex())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A granted root with a file, a subfolder, and links inside and out.
    fn tree() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("granted");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("a.txt"), "a").unwrap();
        std::fs::write(root.join("sub/b.txt"), "b").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "secret").unwrap();
        std::os::unix::fs::symlink("../a.txt", root.join("sub/inside")).unwrap();
        let root = root.canonicalize().unwrap();
        (dir, root)
    }

    fn at(root: &Path, relative: &str) -> String {
        format!("{}/{relative}", root.display())
    }

    #[test]
    fn a_directory_below_a_root_is_read_with_links_that_stay_inside() {
        let (_dir, root) = tree();
        let snapshot = snapshot(std::slice::from_ref(&root), &at(&root, "sub")).unwrap();
        let names: Vec<&str> = snapshot.files.iter().map(|f| f.relative.as_str()).collect();
        assert_eq!(names, ["b.txt", "inside"]);
        assert_eq!(&*snapshot.files[1].contents, b"a");
    }

    #[test]
    fn the_digest_follows_the_contents() {
        let (_dir, root) = tree();
        let roots = std::slice::from_ref(&root);
        let before = snapshot(roots, &at(&root, "sub")).unwrap().digest;
        assert_eq!(snapshot(roots, &at(&root, "sub")).unwrap().digest, before);
        std::fs::write(root.join("sub/b.txt"), "changed").unwrap();
        assert_ne!(snapshot(roots, &at(&root, "sub")).unwrap().digest, before);
    }

    #[test]
    fn neither_dot_dot_nor_links_nor_other_paths_escape() {
        let (dir, root) = tree();
        let roots = std::slice::from_ref(&root);
        assert!(matches!(
            snapshot(roots, &at(&root, "..")),
            Err(Error::Escapes { .. })
        ));
        assert!(matches!(
            snapshot(roots, &at(&root, "sub/../..")),
            Err(Error::Escapes { .. })
        ));
        assert!(matches!(
            snapshot(roots, dir.path().to_str().unwrap()),
            Err(Error::NotGranted { .. })
        ));
        std::os::unix::fs::symlink(dir.path(), root.join("out")).unwrap();
        assert!(matches!(
            snapshot(roots, &at(&root, "out")),
            Err(Error::Escapes { .. })
        ));
        // A link inside a folder that leads out spoils the whole folder.
        std::os::unix::fs::symlink("/etc/passwd", root.join("sub/passwd")).unwrap();
        let refused = snapshot(roots, &at(&root, "sub")).unwrap_err();
        assert!(matches!(refused, Error::Escapes { .. }), "{refused}");
    }
}
