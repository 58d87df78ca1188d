//! `attune.Dataset`: one dataset of a group, its import jobs and its stored records.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use attune::import::{ImportRequest, RowsImportRequest, SourceRow};
use attune::{Dataset, ImportMode};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyIterator, PyList, PyMapping, PyString};

use crate::convert::{avro_to_py, cell, to_py};
use crate::error::{run, InvalidInputError};
use crate::progress::{run_with, PyProgress};

/// Rows converted per visit to the interpreter during an in-memory import.
const BATCH: usize = 8192;

/// One dataset of a dataset group: import data into it and read its records back.
#[pyclass(name = "Dataset", module = "attune", frozen)]
#[derive(Debug)]
pub(crate) struct PyDataset {
    pub(crate) inner: Dataset,
}

fn parse_mode(mode: &str) -> PyResult<ImportMode> {
    ImportMode::parse(mode).ok_or_else(|| {
        InvalidInputError::new_err(format!(
            "importMode {mode:?} is not valid: use FULL or INCREMENTAL"
        ))
    })
}

fn job_name(py: Python<'_>, dataset: &Dataset, name: Option<String>) -> PyResult<String> {
    match name {
        Some(n) => Ok(n),
        None => run(py, || dataset.unused_job_name()),
    }
}

#[pymethods]
impl PyDataset {
    /// The dataset group's name.
    #[getter]
    fn dataset_group(&self) -> &str {
        self.inner.group()
    }

    /// The dataset type: `Interactions`, `Items`, `Users`, `Actions` or `Action_Interactions`.
    #[getter]
    fn dataset_type(&self) -> &'static str {
        self.inner.dataset_type().as_str()
    }

    /// The dataset's ARN (what PutItems and PutUsers take).
    #[getter]
    fn arn(&self) -> &str {
        &self.inner.info().dataset_arn
    }

    /// DescribeDataset's `dataset`, as a dict with Personalize's camelCase keys.
    #[getter]
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, self.inner.info())
    }

    /// The schema document (Avro JSON) the dataset was created with.
    #[getter]
    fn schema(&self) -> &str {
        self.inner.schema().json()
    }

    /// The schema's field names, in schema order.
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.inner
            .schema()
            .fields()
            .iter()
            .map(|f| f.name.clone())
            .collect()
    }

    /// Imports a CSV file, an Avro object container file (`.avro`) or a folder of CSV files, as
    /// `attune import` does: the same dialect, checks and error messages. The job is atomic:
    /// on any bad row nothing is stored and `attune.ImportError` says which rows were bad.
    /// `mode` is `FULL` (replace the bulk records) or `INCREMENTAL` (append); `job_name`
    /// defaults to `import-<type>-<unix seconds>`. Returns the import job. Progress reports
    /// bytes read.
    #[pyo3(signature = (path, *, job_name=None, mode="FULL", progress=None))]
    fn import_csv<'py>(
        &self,
        py: Python<'py>,
        path: std::path::PathBuf,
        job_name: Option<String>,
        mode: &str,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mode = parse_mode(mode)?;
        let job_name = self::job_name(py, &self.inner, job_name)?;
        let path = std::path::absolute(&path).unwrap_or(path);
        let request = ImportRequest {
            job_name,
            data_location: path.display().to_string(),
            mode,
        };
        let progress = PyProgress::new(py, progress)?;
        let job = run_with(py, progress, |p| self.inner.import(&request, p))?;
        to_py(py, &job)
    }

    /// Imports an iterable of records (mappings from field name to value), with the checks of
    /// a CSV import: the first record's keys are the header (every schema field, no other key),
    /// every record must have the same keys, and each value is checked as the CSV cell holding
    /// it would be. Values may be `str`, `int`, `float`, `bool` or `None`; NaN is a missing
    /// value and a list of strings a categorical (`|`-separated) value. Errors name the record
    /// by its 1-based position (`records line 3, column TIMESTAMP: ...`). Progress reports
    /// records.
    #[pyo3(signature = (records, *, job_name=None, mode="FULL", progress=None))]
    fn import_records<'py>(
        &self,
        py: Python<'py>,
        records: &Bound<'py, PyAny>,
        job_name: Option<String>,
        mode: &str,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mode = parse_mode(mode)?;
        let job_name = self::job_name(py, &self.inner, job_name)?;
        let total = records.len().ok().map(|n| n as u64);
        let mut iter = records.try_iter()?;
        let first = iter.next().transpose()?;
        let columns: Vec<String> = match &first {
            Some(rec) => rec
                .cast::<PyMapping>()
                .map_err(|_| {
                    InvalidInputError::new_err(
                        "records: each record must be a mapping (a dict) from field name to value",
                    )
                })?
                .keys()?
                .iter()
                .map(|k| k.extract::<String>())
                .collect::<PyResult<_>>()?,
            None => Vec::new(),
        };
        let mut buffer = VecDeque::new();
        if let Some(rec) = &first {
            buffer.push_back(record_row(rec, &columns));
        }
        let request = RowsImportRequest {
            job_name,
            source: "records".into(),
            mode,
            columns: columns.clone(),
            total_rows: total,
        };
        self.import_from(
            py,
            request,
            Feed::Records(iter.unbind()),
            columns,
            buffer,
            progress,
        )
    }

    /// Imports a pandas DataFrame: its column names are the header and each row a record, with
    /// the checks and error messages of a CSV import of the same data (missing values are empty
    /// cells, integers and floats are numbers, datetime columns are Unix seconds). Errors name
    /// the row by its 1-based position (`DataFrame line 3, column TIMESTAMP: ...`). Progress
    /// reports rows.
    #[pyo3(signature = (df, *, job_name=None, mode="FULL", progress=None))]
    fn import_dataframe<'py>(
        &self,
        py: Python<'py>,
        df: &Bound<'py, PyAny>,
        job_name: Option<String>,
        mode: &str,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mode = parse_mode(mode)?;
        let job_name = self::job_name(py, &self.inner, job_name)?;
        let (columns, total, chunks): (Vec<String>, u64, Bound<'py, PyAny>) = py
            .import("attune._frames")?
            .getattr("dataframe_chunks")?
            .call1((df, BATCH))?
            .extract()?;
        let request = RowsImportRequest {
            job_name,
            source: "DataFrame".into(),
            mode,
            columns: columns.clone(),
            total_rows: Some(total),
        };
        let chunks = chunks.try_iter()?.unbind();
        self.import_from(
            py,
            request,
            Feed::Columns(chunks),
            columns,
            VecDeque::new(),
            progress,
        )
    }

    /// The dataset's import jobs, oldest first (DescribeDatasetImportJob shapes).
    fn import_jobs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let jobs = run(py, || self.inner.import_jobs())?;
        to_py(py, &jobs)
    }

    /// One import job by name or ARN.
    fn import_job<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let job = run(py, || self.inner.import_job(name))?;
        to_py(py, &job)
    }

    /// How many records the bulk partition (imports) holds.
    fn bulk_rows(&self, py: Python<'_>) -> PyResult<u64> {
        run(py, || self.inner.bulk_rows())
    }

    /// Every stored record (bulk imports first, then individually put records, in arrival
    /// order) as columns: a dict from field name (in schema order) to a list of values.
    fn read<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let rows = run(py, || {
            let mut rows: Vec<Vec<apache_avro::types::Value>> = Vec::new();
            self.inner.scan(|_, _, row| {
                rows.push(row.to_vec());
                Ok(())
            })?;
            Ok(rows)
        })?;
        let out = PyDict::new(py);
        for (k, field) in self.inner.schema().fields().iter().enumerate() {
            let column = PyList::empty(py);
            for row in &rows {
                column.append(avro_to_py(py, &row[k])?)?;
            }
            out.set_item(&field.name, column)?;
        }
        Ok(out)
    }

    /// Every stored record as a pandas DataFrame (columns in schema order). Needs pandas.
    fn to_dataframe<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let columns = self.read(py)?;
        py.import("attune._frames")?
            .getattr("to_dataframe")?
            .call1((columns,))
    }

    fn __repr__(&self) -> String {
        format!(
            "Dataset(dataset_group={:?}, dataset_type={:?})",
            self.inner.group(),
            self.inner.dataset_type().as_str()
        )
    }
}

impl PyDataset {
    /// Runs an in-memory import with the GIL released; the source visits the interpreter once
    /// per batch of rows.
    fn import_from<'py>(
        &self,
        py: Python<'py>,
        request: RowsImportRequest,
        feed: Feed,
        columns: Vec<String>,
        buffer: VecDeque<SourceRow>,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let progress = PyProgress::new(py, progress)?;
        let source_error: Mutex<Option<PyErr>> = Mutex::new(None);
        let result = run_with(py, progress, |p| {
            let source = Source {
                feed,
                columns,
                buffer,
                done: false,
                error: &source_error,
                cancel: p.cancel_flag(),
            };
            self.inner.import_rows(&request, source, p)
        });
        // An exception raised while reading the source stopped the job: raise it.
        if let Some(err) = source_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(err);
        }
        to_py(py, &result?)
    }
}

/// Where an in-memory import's rows come from.
enum Feed {
    /// An iterator of mappings.
    Records(Py<PyIterator>),
    /// An iterator of chunks, each a list of column lists of equal length
    /// (`attune._frames.dataframe_chunks`).
    Columns(Py<PyIterator>),
}

/// The rows of an in-memory import, fetched from Python a batch at a time.
struct Source<'a> {
    feed: Feed,
    columns: Vec<String>,
    buffer: VecDeque<SourceRow>,
    done: bool,
    /// The first exception raised by the Python iterator.
    error: &'a Mutex<Option<PyErr>>,
    /// Set when the progress callback raised or a signal arrived.
    cancel: &'a AtomicBool,
}

impl Source<'_> {
    fn fill(&mut self) -> PyResult<()> {
        Python::attach(|py| {
            py.check_signals()?;
            match &self.feed {
                Feed::Records(iter) => {
                    let iter = iter.bind(py);
                    for _ in 0..BATCH {
                        match iter.clone().next() {
                            Some(rec) => self.buffer.push_back(record_row(&rec?, &self.columns)),
                            None => {
                                self.done = true;
                                break;
                            }
                        }
                    }
                }
                Feed::Columns(chunks) => match chunks.bind(py).clone().next() {
                    Some(chunk) => {
                        let chunk = chunk?;
                        let cols: Vec<Bound<'_, PyList>> = chunk.extract()?;
                        let n = cols.first().map_or(0, |c| c.len());
                        for r in 0..n {
                            let mut cells = Vec::with_capacity(cols.len());
                            let mut bad = None;
                            for (c, col) in cols.iter().enumerate() {
                                match cell(&col.get_item(r)?) {
                                    Ok(v) => cells.push(v),
                                    Err(msg) => {
                                        bad = Some(format!("column {}: {msg}", self.columns[c]));
                                        break;
                                    }
                                }
                            }
                            self.buffer.push_back(match bad {
                                Some(msg) => SourceRow::Malformed(msg),
                                None => SourceRow::Cells(cells),
                            });
                        }
                    }
                    None => self.done = true,
                },
            }
            Ok(())
        })
    }
}

impl Iterator for Source<'_> {
    type Item = attune::Result<SourceRow>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buffer.is_empty() && !self.done {
            if self.cancel.load(Ordering::SeqCst) {
                return Some(Err(attune::Error::Interrupted));
            }
            if let Err(err) = self.fill() {
                let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
                slot.get_or_insert(err);
                self.done = true;
                return Some(Err(attune::Error::Interrupted));
            }
        }
        self.buffer.pop_front().map(Ok)
    }
}

/// One record (a mapping) as a row in `columns` order, or why it cannot be one.
fn record_row(rec: &Bound<'_, PyAny>, columns: &[String]) -> SourceRow {
    let Ok(map) = rec.cast::<PyMapping>() else {
        return SourceRow::Malformed(
            "the record is not a mapping (a dict) from field name to value".into(),
        );
    };
    let mut cells = Vec::with_capacity(columns.len());
    for name in columns {
        let value = if let Ok(d) = rec.cast::<PyDict>() {
            d.get_item(name).ok().flatten()
        } else {
            map.get_item(name).ok()
        };
        let Some(value) = value else {
            return SourceRow::Malformed(format!(
                "the record has no key {name}; every record must have the keys of the first \
                 ({})",
                columns.join(", ")
            ));
        };
        match cell(&value) {
            Ok(c) => cells.push(c),
            Err(msg) => return SourceRow::Malformed(format!("column {name}: {msg}")),
        }
    }
    if map.len().is_ok_and(|n| n != columns.len()) {
        let extra = map.keys().ok().and_then(|keys| {
            keys.iter().find_map(|k| {
                let k = k.cast::<PyString>().ok()?.to_cow().ok()?.into_owned();
                (!columns.contains(&k)).then_some(k)
            })
        });
        return SourceRow::Malformed(format!(
            "the record has the key {}, which the first record does not have",
            extra.unwrap_or_else(|| "?".into())
        ));
    }
    SourceRow::Cells(cells)
}
