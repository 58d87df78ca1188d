//! The SDK's one error type.
//!
//! Every variant names what failed; messages have no trailing period. The HTTP layer maps variants
//! to AWS error shapes (`InvalidInputException`, `ResourceNotFoundException`, ...) through
//! [`Error::aws_type`].

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// Result with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the SDK.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A schema document breaks a Personalize rule; the message names the field and the rule.
    #[error("invalid schema: {0}")]
    InvalidSchema(String),
    /// A request or argument is not valid; the message names the field.
    #[error("{0}")]
    InvalidInput(String),
    /// A bulk import failed; nothing was written.
    #[error("import failed: {0}")]
    Import(ImportFailure),
    /// A named resource does not exist.
    #[error("{kind} not found: {name}")]
    NotFound {
        /// What kind of resource ("dataset group", "schema", ...).
        kind: &'static str,
        /// Its name or ARN.
        name: String,
    },
    /// A resource with that name already exists.
    #[error("{kind} already exists: {name}")]
    AlreadyExists {
        /// What kind of resource.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// The resource is in use or in a state that does not allow the call.
    #[error("{0}")]
    ResourceInUse(String),
    /// A quota or limit was exceeded.
    #[error("{0}")]
    LimitExceeded(String),
    /// The data directory holds a store format this build does not read.
    #[error("store at {path} has format version {found}, this build reads version {supported}")]
    UnsupportedFormat {
        /// The data directory.
        path: PathBuf,
        /// The version found on disk.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// Stored data could not be decoded.
    #[error("corrupt data in {path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The operation was interrupted by the caller.
    #[error("interrupted")]
    Interrupted,
    /// An I/O error, with the path it happened on.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: Arc<io::Error>,
    },
    /// An Avro encoding or decoding error.
    #[error("avro: {0}")]
    Avro(Arc<apache_avro::Error>),
}

/// Why a bulk import job failed: the first errors with their position, and how many rows were bad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportFailure {
    /// The job-level reason (the first error, in full).
    pub reason: String,
    /// Up to 100 row errors, in file order.
    pub row_errors: Vec<RowError>,
    /// How many rows had an error in all.
    pub bad_rows: u64,
}

impl std::fmt::Display for ImportFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)?;
        if self.bad_rows > 1 {
            write!(f, " ({} bad rows in all)", self.bad_rows)?;
        }
        Ok(())
    }
}

/// One bad row of an import file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The file the row is in.
    pub file: String,
    /// The 1-based line number (the header is line 1).
    pub line: u64,
    /// The column (schema field) at fault, when one is.
    pub column: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} line {}", self.file, self.line)?;
        if let Some(column) = &self.column {
            write!(f, ", column {column}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source: Arc::new(source),
        }
    }

    /// The AWS error type this error maps to on the wire.
    pub fn aws_type(&self) -> &'static str {
        match self {
            Error::InvalidSchema(_) | Error::InvalidInput(_) | Error::Import(_) => {
                "InvalidInputException"
            }
            Error::NotFound { .. } => "ResourceNotFoundException",
            Error::AlreadyExists { .. } => "ResourceAlreadyExistsException",
            Error::ResourceInUse(_) => "ResourceInUseException",
            Error::LimitExceeded(_) => "LimitExceededException",
            Error::UnsupportedFormat { .. }
            | Error::Corrupt { .. }
            | Error::Interrupted
            | Error::Io { .. }
            | Error::Avro(_) => "InternalFailure",
        }
    }
}

impl From<apache_avro::Error> for Error {
    fn from(e: apache_avro::Error) -> Error {
        Error::Avro(Arc::new(e))
    }
}

/// Shorthand for [`Error::InvalidInput`] with a formatted message.
macro_rules! invalid {
    ($($arg:tt)*) => { $crate::Error::InvalidInput(format!($($arg)*)) };
}
pub(crate) use invalid;
