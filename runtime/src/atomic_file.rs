//! Writing a file so that a reader sees its old contents or its new ones,
//! never a part: the plugin store, the component cache and the exec cache all
//! write this way.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Tells apart the temporary files of writers in one process (a server
/// stores for many tenants at once); the process id tells processes apart.
static NEXT_TEMPORARY: AtomicU64 = AtomicU64::new(0);

/// Writes `contents` to `path` through a temporary file beside it and a
/// rename, creating the folder when it is missing. A failed write leaves no
/// temporary file behind.
pub(crate) fn write(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let writer = NEXT_TEMPORARY.fetch_add(1, Ordering::Relaxed);
    let temporary = path.with_extension(format!("tmp{}-{writer}", std::process::id()));
    let written =
        std::fs::write(&temporary, contents).and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers_of_one_file_in_one_process_each_land_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/record.json");
        let writers: Vec<_> = (0..8u8)
            .map(|n| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let contents = vec![n; 256 * 1024];
                    (0..50).try_for_each(|_| write(&path, &contents))
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap().expect("every write lands");
        }
        let written = std::fs::read(&path).unwrap();
        assert_eq!(written.len(), 256 * 1024);
        assert!(written.iter().all(|byte| *byte == written[0]));
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["record.json"]);
    }
}
