//! The exception classes and the one mapping from [`attune::Error`] to them, plus [`run`]: the
//! helper every long SDK call goes through (release the GIL, then map the error).
//!
//! ```text
//! AttuneError
//! ├── InvalidInputError        Error::InvalidInput
//! │   ├── SchemaError          Error::InvalidSchema
//! │   └── ImportError          Error::Import (reason, row_errors, bad_rows)
//! ├── NotFoundError            Error::NotFound
//! ├── AlreadyExistsError       Error::AlreadyExists
//! ├── ResourceInUseError       Error::ResourceInUse
//! ├── LimitExceededError       Error::LimitExceeded
//! ├── UnsupportedFormatError   Error::UnsupportedFormat
//! ├── CorruptDataError         Error::Corrupt, Error::Avro
//! ├── StorageError             Error::Io
//! ├── CancelledError           Error::Interrupted
//! └── ServerError              a running server's failure (the Python client)
//! ```
//!
//! `attune.ImportError` is not Python's builtin `ImportError`; the package's own code refers to
//! it only as `_native.ImportError`.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

create_exception!(
    attune,
    AttuneError,
    PyException,
    "The base class of every error the attune package raises."
);
create_exception!(
    attune,
    InvalidInputError,
    AttuneError,
    "A request or argument is not valid; the message names the field (AWS InvalidInputException)."
);
create_exception!(
    attune,
    SchemaError,
    InvalidInputError,
    "A schema document breaks a Personalize rule; the message names the field and the rule."
);
create_exception!(
    attune,
    ImportError,
    InvalidInputError,
    "A dataset import job failed and stored nothing. `reason` is the first error, `row_errors` \
     the first 100 row errors (dicts with file, line, column, message) and `bad_rows` how many \
     rows were bad. Not Python's builtin ImportError."
);
create_exception!(
    attune,
    NotFoundError,
    AttuneError,
    "A named resource does not exist (AWS ResourceNotFoundException)."
);
create_exception!(
    attune,
    AlreadyExistsError,
    AttuneError,
    "A resource with that name already exists (AWS ResourceAlreadyExistsException)."
);
create_exception!(
    attune,
    ResourceInUseError,
    AttuneError,
    "The resource is in use or in a state that does not allow the call (AWS \
     ResourceInUseException)."
);
create_exception!(
    attune,
    LimitExceededError,
    AttuneError,
    "A quota or limit was exceeded (AWS LimitExceededException)."
);
create_exception!(
    attune,
    UnsupportedFormatError,
    AttuneError,
    "The data directory holds a store format this build does not read."
);
create_exception!(
    attune,
    CorruptDataError,
    AttuneError,
    "Stored data (a store file, a model artifact, an Avro file) could not be decoded."
);
create_exception!(
    attune,
    StorageError,
    AttuneError,
    "An operating-system I/O error on a file of the store; the message names the path."
);
create_exception!(
    attune,
    CancelledError,
    AttuneError,
    "The operation was stopped before it finished (training stopped by a progress callback)."
);
create_exception!(
    attune,
    ServerError,
    AttuneError,
    "A running Attune server could not be reached or failed (the Python client). `status` is \
     the HTTP status (0 when there was no response) and `error_type` the AWS error type."
);

/// Registers the exception classes on the module, with the class-level defaults of the
/// attributes some of them carry.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("AttuneError", py.get_type::<AttuneError>())?;
    m.add("InvalidInputError", py.get_type::<InvalidInputError>())?;
    m.add("SchemaError", py.get_type::<SchemaError>())?;
    let import_error = py.get_type::<ImportError>();
    import_error.setattr("reason", "")?;
    import_error.setattr("row_errors", PyList::empty(py))?;
    import_error.setattr("bad_rows", 0)?;
    m.add("ImportError", import_error)?;
    m.add("NotFoundError", py.get_type::<NotFoundError>())?;
    m.add("AlreadyExistsError", py.get_type::<AlreadyExistsError>())?;
    m.add("ResourceInUseError", py.get_type::<ResourceInUseError>())?;
    m.add("LimitExceededError", py.get_type::<LimitExceededError>())?;
    m.add(
        "UnsupportedFormatError",
        py.get_type::<UnsupportedFormatError>(),
    )?;
    m.add("CorruptDataError", py.get_type::<CorruptDataError>())?;
    m.add("StorageError", py.get_type::<StorageError>())?;
    m.add("CancelledError", py.get_type::<CancelledError>())?;
    let server_error = py.get_type::<ServerError>();
    server_error.setattr("status", 0)?;
    server_error.setattr("error_type", "")?;
    m.add("ServerError", server_error)?;
    Ok(())
}

/// An SDK error as a Python exception of its family, with the SDK's message intact.
pub(crate) struct Error(pub attune::Error);

impl From<attune::Error> for Error {
    fn from(e: attune::Error) -> Error {
        Error(e)
    }
}

impl From<Error> for PyErr {
    fn from(Error(e): Error) -> PyErr {
        use attune::Error as E;
        let msg = e.to_string();
        match e {
            E::InvalidSchema(_) => SchemaError::new_err(msg),
            E::InvalidInput(_) => InvalidInputError::new_err(msg),
            E::Import(failure) => Python::attach(|py| {
                let err = ImportError::new_err(msg);
                if let Err(set) = import_details(py, &err, &failure) {
                    return set;
                }
                err
            }),
            E::NotFound { .. } => NotFoundError::new_err(msg),
            E::AlreadyExists { .. } => AlreadyExistsError::new_err(msg),
            E::ResourceInUse(_) => ResourceInUseError::new_err(msg),
            E::LimitExceeded(_) => LimitExceededError::new_err(msg),
            E::UnsupportedFormat { .. } => UnsupportedFormatError::new_err(msg),
            E::Corrupt { .. } | E::Avro(_) => CorruptDataError::new_err(msg),
            E::Io { .. } => StorageError::new_err(msg),
            E::Interrupted => CancelledError::new_err(msg),
            // `Error` is non-exhaustive: a family added later is at least an AttuneError.
            _ => AttuneError::new_err(msg),
        }
    }
}

/// Sets `reason`, `row_errors` and `bad_rows` on an ImportError.
fn import_details(py: Python<'_>, err: &PyErr, failure: &attune::ImportFailure) -> PyResult<()> {
    let value = err.value(py);
    value.setattr("reason", &failure.reason)?;
    let rows = PyList::empty(py);
    for r in &failure.row_errors {
        let d = PyDict::new(py);
        d.set_item("file", &r.file)?;
        d.set_item("line", r.line)?;
        d.set_item("column", r.column.as_deref())?;
        d.set_item("message", &r.message)?;
        rows.append(d)?;
    }
    value.setattr("row_errors", rows)?;
    value.setattr("bad_rows", failure.bad_rows)?;
    Ok(())
}

/// Runs an SDK call with the GIL released, so other Python threads keep running, and maps its
/// error to the exception class of its family. Every long call goes through here.
pub(crate) fn run<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    F: FnOnce() -> attune::Result<T> + Send,
    T: Send,
{
    py.detach(f).map_err(|e| PyErr::from(Error(e)))
}
