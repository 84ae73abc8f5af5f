//! Output files: content goes to a hidden temporary file in the target's folder and is renamed
//! over the final path only once complete, so a crash or an error never leaves a half file at
//! the final path (and never clobbers an existing file with a partial one).
//!
//! Only regular files are replaced that way. Anything else is written in place:
//! - `-` is standard output;
//! - a FIFO, a character or block device or a socket is opened and streamed to directly (renaming
//!   over `/dev/null` or a named pipe would replace the special file with a regular one);
//! - a symbolic link is followed to its target, which is then written by these same rules (the
//!   link itself stays).

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use tempfile::TempPath;

/// Symbolic links followed before giving up (as the kernel's ELOOP limit).
const MAX_LINKS: usize = 40;

/// Whether `path` is `-`, the conventional name of standard input or output.
pub fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// `path` with every symbolic link along it followed, also when the last link dangles (its
/// target does not exist yet): the file a write to `path` really creates or replaces.
pub fn resolve(path: &Path) -> Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&current).map_err(|e| Error::io(path, e))?;
                current = match current.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(Error::file(path, "too many levels of symbolic links"))
}

/// The file `path` names, for telling whether two paths are one: links followed, then made
/// absolute and canonical as far as it exists (a file not yet written is its canonical folder
/// plus its name). `-` stays `-`.
pub fn identity(path: &Path) -> PathBuf {
    if is_stdio(path) {
        return path.to_path_buf();
    }
    let target = resolve(path).unwrap_or_else(|_| path.to_path_buf());
    if let Ok(canonical) = target.canonicalize() {
        return canonical;
    }
    let absolute = std::path::absolute(&target).unwrap_or(target);
    // Canonicalise the longest existing ancestor, keep the rest as written (without `.`).
    let mut rest = Vec::new();
    let mut base = absolute.as_path();
    loop {
        if let Ok(canonical) = base.canonicalize() {
            let mut out = canonical;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (base.parent(), base.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                base = parent;
            }
            _ => return absolute,
        }
    }
}

/// Whether `path` (links followed) exists and is neither a regular file nor a folder: a FIFO, a
/// device or a socket, which is written in place, never replaced.
pub fn is_special(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

enum Destination {
    /// A regular file (or none yet): the temporary file, renamed over `target` at the end.
    Replace { temp: TempPath, target: PathBuf },
    /// Standard output, a FIFO or a device, written directly.
    Stream,
}

/// A file being written. Dropping it without [`AtomicFile::commit`] removes the temporary file
/// and leaves the final path untouched (what was streamed to a pipe or device is gone already).
pub struct AtomicFile {
    final_path: PathBuf,
    destination: Destination,
}

impl AtomicFile {
    /// Opens `path` for writing: a temporary file beside it (beside its link target for a
    /// symbolic link), or the stream itself for `-`, a FIFO or a device. Fails, naming `path`,
    /// when its folder does not exist or is not writable, or when it is a folder.
    pub fn create(path: &Path) -> Result<(Self, BufWriter<File>)> {
        let (destination, file) = if is_stdio(path) {
            (
                Destination::Stream,
                stdout_file().map_err(|e| Error::io(path, e))?,
            )
        } else {
            let target = resolve(path)?;
            if target.is_dir() {
                return Err(Error::file(path, "is a folder, expected a file path"));
            }
            if is_special(&target) {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&target)
                    .map_err(|e| Error::io(path, e))?;
                (Destination::Stream, file)
            } else {
                let (temp, file) = temp_beside(path, &target)?;
                (Destination::Replace { temp, target }, file)
            }
        };
        Ok((
            AtomicFile {
                final_path: path.to_path_buf(),
                destination,
            },
            BufWriter::with_capacity(1 << 16, file),
        ))
    }

    /// The path the file will have once committed (as given: `-` for standard output).
    pub fn path(&self) -> &Path {
        &self.final_path
    }

    /// Whether the output is a regular file, which can be sought back into (to complete a
    /// header); a stream cannot.
    pub fn is_seekable(&self) -> bool {
        matches!(self.destination, Destination::Replace { .. })
    }

    /// Flushes `writer`; for a regular file also syncs it and renames the temporary file onto
    /// the final path.
    pub fn commit(self, writer: BufWriter<File>) -> Result<()> {
        let file = writer
            .into_inner()
            .map_err(|e| Error::io(&self.final_path, e.into_error()))?;
        match self.destination {
            Destination::Stream => Ok(()),
            Destination::Replace { temp, target } => {
                file.sync_all()
                    .map_err(|e| Error::io(&self.final_path, e))?;
                drop(file);
                temp.persist(&target)
                    .map_err(|e| Error::io(&self.final_path, e.error))
            }
        }
    }
}

/// Writes `path` through `fill`, which writes a file at the path it is given (for writers
/// that only take a path, such as LibTorch's safetensors): the hidden temporary file for a
/// regular file, or a private temporary file that is then copied to a stream.
pub(crate) fn write_via_path(path: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let (file, mut writer) = AtomicFile::create(path)?;
    match &file.destination {
        Destination::Replace { temp, .. } => {
            let temp = temp.to_path_buf();
            writer
                .into_inner()
                .map_err(|e| Error::io(path, e.into_error()))?;
            fill(&temp)?;
            let file_handle = File::open(&temp).map_err(|e| Error::io(path, e))?;
            file.commit(BufWriter::new(file_handle))
        }
        Destination::Stream => {
            let scratch = tempfile::NamedTempFile::new().map_err(|e| Error::io(path, e))?;
            fill(scratch.path())?;
            let mut bytes = File::open(scratch.path()).map_err(|e| Error::io(path, e))?;
            std::io::copy(&mut bytes, &mut writer).map_err(|e| Error::io(path, e))?;
            file.commit(writer)
        }
    }
}

/// A new handle on standard output (buffered by the caller; Rust's own `Stdout` is line
/// buffered and locked, which costs a syscall per line of nothing).
fn stdout_file() -> std::io::Result<File> {
    use std::os::fd::AsFd;
    Ok(File::from(std::io::stdout().as_fd().try_clone_to_owned()?))
}

/// The OS error alone: tempfile's messages name the hidden temporary file, which means nothing
/// to the user (the error is reported against the final path).
fn without_temp_name(e: std::io::Error) -> std::io::Error {
    if e.raw_os_error().is_some() {
        return e;
    }
    // tempfile's message: "<the OS error> at path \"<temporary path>\"".
    let message = e.to_string();
    let cause = message.split(" at path ").next().unwrap_or_default();
    std::io::Error::new(e.kind(), cause.to_string())
}

/// A hidden temporary file in `target`'s folder, named after it; errors name `path`.
fn temp_beside(path: &Path, target: &Path) -> Result<(TempPath, File)> {
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = target
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
    let temp = builder
        .tempfile_in(dir)
        .map_err(|e| Error::io(path, without_temp_name(e)))?;
    let (file, temp) = temp.into_parts();
    Ok((temp, file))
}

/// Writes `bytes` to `path` atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with(path, |w| w.write_all(bytes))
}

/// Writes `path` atomically through `fill`, which gets a buffered writer to the temporary file.
fn write_with(
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

    /// A FIFO is written through, never replaced by a regular file.
    #[test]
    fn a_fifo_is_streamed_to_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid C string; mkfifo only creates the node.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write_bytes(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
        use std::os::unix::fs::FileTypeExt;
        assert!(kind.is_fifo(), "the FIFO was replaced");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// A symbolic link is followed: its target gets the content, the link stays a link.
    #[test]
    fn a_symlink_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.bin");
        let link = dir.path().join("link.bin");
        std::fs::write(&target, b"old").unwrap();
        std::os::unix::fs::symlink("real.bin", &link).unwrap();
        write_bytes(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        // A dangling link creates its target.
        let dangling = dir.path().join("dangling.bin");
        std::os::unix::fs::symlink("made.bin", &dangling).unwrap();
        write_bytes(&dangling, b"made").unwrap();
        assert!(std::fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(dir.path().join("made.bin")).unwrap(), b"made");
    }

    #[test]
    fn missing_folder_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope").join("out.bin");
        let err = write_bytes(&path, b"x").unwrap_err().to_string();
        assert!(err.contains("out.bin"), "{err}");
        assert!(!err.contains(".out.bin."), "the hidden name shows: {err}");
        assert!(err.contains("No such file"), "{err}");
    }
}
