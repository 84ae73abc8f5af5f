//! The library's one error type. Messages name the file and say what was expected and found.

use std::path::PathBuf;

/// Everything that can go wrong in saex's library calls.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operating system refused a read or write of `path`. The message carries the cause,
    /// so it is not also chained as a source (`{:#}` would print it twice).
    #[error("{}: {cause}", path.display())]
    Io { path: PathBuf, cause: IoCause },
    /// A file exists but its content is unusable: not audio, truncated, NaN samples, a corrupt
    /// model, stems that disagree, ... `reason` says which.
    #[error("{}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
    /// A size, shape or parameter does not match what is required.
    #[error("{what}: expected {expected}, got {actual}")]
    Mismatch {
        what: String,
        expected: String,
        actual: String,
    },
    /// A parameter is out of its allowed range (the message says which and why).
    #[error("{0}")]
    Invalid(String),
    /// LibTorch reported an error (message only, for the same reason as `Io`).
    #[error("libtorch: {0}")]
    Torch(TorchCause),
    /// The user asked to stop (Ctrl-C); whatever was finished has been kept.
    #[error("interrupted")]
    Interrupted,
}

/// An I/O error kept for its message and kind, deliberately not a `source()`.
#[derive(Debug)]
pub struct IoCause(pub std::io::Error);

impl std::fmt::Display for IoCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A LibTorch error kept for its message, deliberately not a `source()`.
#[derive(Debug)]
pub struct TorchCause(pub tch::TchError);

impl std::fmt::Display for TorchCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<tch::TchError> for Error {
    fn from(e: tch::TchError) -> Self {
        Error::Torch(TorchCause(e))
    }
}

/// `Result` with saex's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            cause: IoCause(source),
        }
    }

    /// An [`Error::File`] for `path`.
    pub fn file(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::File {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// An [`Error::Mismatch`].
    pub fn mismatch(
        what: impl Into<String>,
        expected: impl ToString,
        actual: impl ToString,
    ) -> Self {
        Error::Mismatch {
            what: what.into(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        }
    }
}
