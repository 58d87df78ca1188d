//! Attune's Python bindings: the native module `attune._native` of the `attune` package.
//!
//! # Layout
//!
//! Conversions only; every decision is the SDK's. Each method extracts its arguments into owned
//! Rust values, calls the SDK with the GIL released through `error::run` (or
//! `progress::run_with` for calls that report progress), and converts the result.
//!
//! - `store`: `Store` (dataset groups, schemas, datasets, Put* records, insights, solutions,
//!   training, evaluation, campaigns) and `generate`.
//! - `dataset`: `Dataset` (imports from CSV files, records and DataFrames; reading back).
//! - `model`: `Model` (in-process rank, top-N, similar items, evaluation).
//! - `progress`: `ProgressUpdate` and the SDK `Progress` that calls a Python callback.
//! - `error`: the exception classes, one per SDK error family.
//! - `convert`: Python objects to and from SDK values.
//!
//! The Python half lives in `py_src/attune/`: `__init__.py` re-exports this module, `_frames.py`
//! holds the pandas conversions, `_progress.py` the tqdm bar and `client.py` the HTTP client of a
//! running server.

mod convert;
mod dataset;
mod error;
mod model;
mod progress;
mod store;

use pyo3::prelude::*;

/// The native half of the `attune` package.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    error::register(m)?;
    m.add_class::<store::PyStore>()?;
    m.add_class::<dataset::PyDataset>()?;
    m.add_class::<model::PyModel>()?;
    m.add_class::<progress::ProgressUpdate>()?;
    m.add_function(wrap_pyfunction!(store::generate, m)?)?;
    m.add("FORMAT_VERSION", attune::store::FORMAT_VERSION)?;
    m.add("MODEL_FORMAT_VERSION", attune::model::FORMAT_VERSION)?;
    m.add("MAX_INPUT_ITEMS", attune::model::MAX_INPUT_ITEMS)?;
    Ok(())
}
