//! Tar archives: how files travel to and from containers.

use std::io::Read;

use crate::spec::NewFile;

/// A tar archive, rooted at `/`, holding `files`.
pub(super) fn files_to_tar(files: &[NewFile]) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for file in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(file.contents.len() as u64);
        header.set_mode(file.permissions);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        let relative = file.path.trim_start_matches('/');
        builder.append_data(&mut header, relative, &file.contents[..])?;
    }
    builder.into_inner()
}

/// What the first entry of a single-path archive (as the engine sends it) holds.
pub(super) enum ArchiveEntry {
    File(Vec<u8>),
    Directory,
    /// A symbolic link, with its target as written.
    Symlink(String),
}

/// Reads the first entry of `archive`, following nothing.
pub(super) fn first_entry(archive: &[u8]) -> std::io::Result<ArchiveEntry> {
    let mut reader = tar::Archive::new(archive);
    let mut entries = reader.entries()?;
    let Some(entry) = entries.next() else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the engine sent an empty archive",
        ));
    };
    let mut entry = entry?;
    let kind = entry.header().entry_type();
    if kind.is_dir() {
        return Ok(ArchiveEntry::Directory);
    }
    if kind.is_symlink() {
        let target = entry.link_name()?.unwrap_or_default();
        return Ok(ArchiveEntry::Symlink(target.to_string_lossy().into_owned()));
    }
    let mut contents = Vec::with_capacity(entry.size() as usize);
    entry.read_to_end(&mut contents)?;
    Ok(ArchiveEntry::File(contents))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_file_round_trips() {
        let file = NewFile {
            path: "/etc/x.conf".into(),
            contents: Arc::from(&b"hello"[..]),
            permissions: 0o600,
        };
        let tar = files_to_tar(&[file]).unwrap();
        match first_entry(&tar).unwrap() {
            ArchiveEntry::File(contents) => assert_eq!(contents, b"hello"),
            _ => panic!("expected a file"),
        }
    }
}
