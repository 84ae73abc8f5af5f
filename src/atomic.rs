//! Atomic file writes: content goes to a hidden temporary file in the target's folder and is
//! renamed over the final path only once complete, so a crash or an error never leaves a half
//! file at the final path (and never clobbers an existing file with a partial one).

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use tempfile::TempPath;

/// A file being written atomically. Dropping it without [`AtomicFile::commit`] removes the
/// temporary file and leaves the final path untouched.
pub struct AtomicFile {
    final_path: PathBuf,
    temp: TempPath,
}

impl AtomicFile {
    /// Creates the temporary file beside `path` and returns it with a buffered handle to write to.
    /// Fails, naming `path`, when its folder does not exist or is not writable.
    pub fn create(path: &Path) -> Result<(Self, BufWriter<File>)> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        if path.is_dir() {
            return Err(Error::file(path, "is a folder, expected a file path"));
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        // Temporary files are private (0600) by default; the final file gets the usual mode.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let temp = builder.tempfile_in(dir).map_err(|e| Error::io(path, e))?;
        let (file, temp) = temp.into_parts();
        Ok((
            AtomicFile {
                final_path: path.to_path_buf(),
                temp,
            },
            BufWriter::with_capacity(1 << 16, file),
        ))
    }

    /// The path the file will have once committed.
    pub fn path(&self) -> &Path {
        &self.final_path
    }

    /// Flushes and syncs `writer`, then renames the temporary file onto the final path.
    pub fn commit(self, writer: BufWriter<File>) -> Result<()> {
        let file = writer
            .into_inner()
            .map_err(|e| Error::io(&self.final_path, e.into_error()))?;
        file.sync_all()
            .map_err(|e| Error::io(&self.final_path, e))?;
        drop(file);
        self.commit_closed()
    }

    /// Renames the (already flushed and closed) temporary file onto the final path.
    pub(crate) fn commit_closed(self) -> Result<()> {
        let final_path = self.final_path;
        self.temp
            .persist(&final_path)
            .map_err(|e| Error::io(&final_path, e.error))
    }

    /// The temporary file's path (for writers that reopen it).
    pub(crate) fn temp_path(&self) -> &Path {
        &self.temp
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with(path, |w| w.write_all(bytes))
}

/// Writes `path` atomically through `fill`, which gets a buffered writer to the temporary file.
pub fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<()> {
    let (file, mut writer) = AtomicFile::create(path)?;
    fill(&mut writer).map_err(|e| Error::io(path, e))?;
    file.commit(writer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        {
            let (_file, mut w) = AtomicFile::create(&path).unwrap();
            w.write_all(b"partial").unwrap();
        }
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn commit_replaces_existing_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        std::fs::write(&path, b"old").unwrap();
        write_bytes(&path, b"new content").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new content");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// A write error midway (a full disk) fails naming the final path, keeps the old file and
    /// leaves no temporary file.
    #[test]
    fn a_failing_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        std::fs::write(&path, b"old").unwrap();
        let err = write_with(&path, |w| {
            w.write_all(&[7u8; 100_000])?;
            Err(std::io::Error::from_raw_os_error(28)) // ENOSPC
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("out.bin") && err.contains("No space left"),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn missing_folder_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope").join("out.bin");
        let err = write_bytes(&path, b"x").unwrap_err().to_string();
        assert!(err.contains("out.bin"), "{err}");
    }
}
