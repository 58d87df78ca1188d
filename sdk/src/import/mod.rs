//! Bulk import: dataset import jobs from CSV files, folders of CSV files, or Avro object
//! container files (`spec/data.md` sections 3-4).
//!
//! A job is atomic. Rows are validated and encoded into a new Avro segment under a temporary
//! name; only when every row is good is the segment renamed into place and the BULK manifest
//! swapped (FULL: the new segment replaces all bulk segments; INCREMENTAL: it is appended).
//! A failed job leaves the dataset as it was and reports the first errors with file, line and
//! column.

mod csv_source;
mod rows;

pub use rows::{check_cell, Cell, RowsImportRequest, SourceRow};

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use apache_avro::types::Value;
use apache_avro::{Codec, Writer};

use crate::error::{invalid, Error, ImportFailure, Result, RowError};
pub use crate::progress::{NoProgress, Progress};
use crate::record::{check_long, normalize_string, to_avro_field};
use crate::schema::{DatasetType, Field, FieldType, Schema};
use crate::store::fsutil;
use crate::store::running::RunningJob;
use crate::store::{next_seq, Dataset, ImportJobInfo, ImportMode, Segment};

/// The fewest interaction records an import job may carry (spec 4.4).
pub const MIN_INTERACTIONS_PER_JOB: u64 = 1000;
/// Row errors kept in the failure report.
pub const MAX_REPORTED_ERRORS: usize = 100;

/// A dataset import job recorded as CREATE IN_PROGRESS and not run yet
/// ([`Dataset::begin_import`]).
#[derive(Debug)]
pub struct PendingImport {
    dataset: Dataset,
    request: ImportRequest,
    job: RunningJob<ImportJobInfo>,
}

impl PendingImport {
    /// The job as recorded (CREATE IN_PROGRESS).
    pub fn info(&self) -> &ImportJobInfo {
        self.job.record()
    }

    /// Runs the import to completion: the job ends ACTIVE, or CREATE FAILED with the error
    /// returned (the dataset then unchanged), as with [`Dataset::import`].
    pub fn run(self, progress: &dyn Progress) -> Result<ImportJobInfo> {
        let PendingImport {
            dataset,
            request,
            job,
        } = self;
        let result = dataset.import_files(&request, progress);
        dataset.finish_job(job, result)
    }
}

/// What to import.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// The job name (1-63 characters, unique per dataset).
    pub job_name: String,
    /// A CSV file, an Avro container file (`.avro`), or a folder of CSV files; a path or a
    /// `file://` URL.
    pub data_location: String,
    /// FULL (default) or INCREMENTAL.
    pub mode: ImportMode,
}

/// Collects row errors: the first [`MAX_REPORTED_ERRORS`] in full, and a count.
#[derive(Debug, Default)]
pub(crate) struct Errors {
    pub list: Vec<RowError>,
    pub count: u64,
}

impl Errors {
    pub(crate) fn push(&mut self, file: &str, line: u64, column: Option<&str>, message: String) {
        self.count += 1;
        if self.list.len() < MAX_REPORTED_ERRORS {
            self.list.push(RowError {
                file: file.to_owned(),
                line,
                column: column.map(str::to_owned),
                message,
            });
        }
    }
}

/// Writes records of a schema into a new Avro segment file, reusing one record value.
pub(crate) struct SegmentWriter<'a> {
    writer: Writer<'a, BufWriter<File>>,
    record: Value,
    fields: &'a [Field],
    pub rows: u64,
}

impl<'a> SegmentWriter<'a> {
    pub(crate) fn create(schema: &'a Schema, path: &Path) -> Result<SegmentWriter<'a>> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        // Snappy: cheap to encode, and each block carries a CRC32 of its contents.
        let writer = Writer::with_codec(
            schema.avro(),
            BufWriter::with_capacity(1 << 20, file),
            Codec::Snappy,
        );
        let record = Value::Record(
            schema
                .fields()
                .iter()
                .map(|f| (f.name.clone(), Value::Null))
                .collect(),
        );
        Ok(SegmentWriter {
            writer,
            record,
            fields: schema.fields(),
            rows: 0,
        })
    }

    /// Appends one row of plain values in schema order (moved out of `row`).
    pub(crate) fn append(&mut self, row: &mut [Value]) -> Result<()> {
        let Value::Record(slots) = &mut self.record else {
            unreachable!("the segment record is a record")
        };
        for ((slot, field), value) in slots.iter_mut().zip(self.fields).zip(row.iter_mut()) {
            slot.1 = to_avro_field(field, std::mem::replace(value, Value::Null));
        }
        self.writer.append_value_ref(&self.record)?;
        self.rows += 1;
        Ok(())
    }

    /// Flushes and fsyncs the file.
    pub(crate) fn finish(self) -> Result<()> {
        let buf = self.writer.into_inner()?;
        let file = buf
            .into_inner()
            .map_err(|e| Error::io("segment", e.into_error()))?;
        file.sync_all().map_err(|e| Error::io("segment", e))
    }
}

impl Dataset {
    /// Runs a dataset import job to completion (CreateDatasetImportJob, synchronously). Returns
    /// the job, ACTIVE. On bad data it returns [`Error::Import`] and leaves the dataset
    /// unchanged; the job is then recorded as CREATE FAILED with its failure reason.
    pub fn import(&self, req: &ImportRequest, progress: &dyn Progress) -> Result<ImportJobInfo> {
        self.begin_import(req.clone())?.run(progress)
    }

    /// The first half of [`Dataset::import`]: checks the job name and records the job as
    /// CREATE IN_PROGRESS, so a caller (the server's CreateDatasetImportJob) has it durably
    /// before the import starts. Run it with [`PendingImport::run`], on any thread; a
    /// `PendingImport` dropped unrun, or a process that dies while it runs, leaves the job to
    /// be read back as CREATE FAILED (`store::running`).
    pub fn begin_import(&self, request: ImportRequest) -> Result<PendingImport> {
        let job = self.begin_job(&request.job_name, &request.data_location, request.mode)?;
        Ok(PendingImport {
            dataset: self.clone(),
            request,
            job,
        })
    }

    fn import_files(&self, req: &ImportRequest, progress: &dyn Progress) -> Result<u64> {
        self.write_segment(req.mode, &req.data_location, |out, errors| {
            let files = resolve_location(&req.data_location)?;
            let total: u64 = files
                .iter()
                .map(|f| fs::metadata(f).map(|m| m.len()).unwrap_or(0))
                .sum();
            progress.start("import", total);
            let mut header: Option<Vec<String>> = None;
            for path in &files {
                if is_avro(path) {
                    import_avro(self.schema(), path, out, errors, progress)?;
                } else {
                    csv_source::import_csv(
                        self.schema(),
                        path,
                        &mut header,
                        out,
                        errors,
                        progress,
                    )?;
                }
            }
            progress.finish();
            Ok(())
        })
    }

    /// Runs `run` as the import job `job_name`: records the job as CREATE IN_PROGRESS, then as
    /// ACTIVE with the rows `run` imported, or as CREATE FAILED with its failure reason (and, for
    /// [`Error::Import`], the row error report next to the job).
    pub(crate) fn record_job(
        &self,
        job_name: &str,
        data_location: &str,
        mode: ImportMode,
        run: impl FnOnce() -> Result<u64>,
    ) -> Result<ImportJobInfo> {
        let job = self.begin_job(job_name, data_location, mode)?;
        self.finish_job(job, run())
    }

    /// Writes one new BULK segment under the dataset's lock: `fill` appends the rows (and
    /// collects row errors); when it left no error and the Interactions minimum holds, the
    /// segment is committed (FULL: it replaces the bulk segments; INCREMENTAL: it is appended).
    /// Returns the rows written; on any error the dataset is unchanged.
    pub(crate) fn write_segment(
        &self,
        mode: ImportMode,
        data_location: &str,
        fill: impl FnOnce(&mut SegmentWriter<'_>, &mut Errors) -> Result<()>,
    ) -> Result<u64> {
        let _lock = self.lock()?;
        let existing = self.segments()?;
        if mode == ImportMode::Incremental && existing.is_empty() {
            return Err(invalid!(
                "INCREMENTAL import into {} needs bulk records already imported; the first \
                 import must be FULL",
                self.info().dataset_arn
            ));
        }
        let seq = next_seq();
        let file_name = format!("seg-{seq:020}.avro");
        let final_path = self.bulk_dir().join(&file_name);
        let tmp = fsutil::temp_path(&final_path);
        let outcome = (|| {
            let mut out = SegmentWriter::create(self.schema(), &tmp)?;
            let mut errors = Errors::default();
            fill(&mut out, &mut errors)?;
            if errors.count > 0 {
                let first = &errors.list[0];
                return Err(Error::Import(ImportFailure {
                    reason: first.to_string(),
                    row_errors: std::mem::take(&mut errors.list),
                    bad_rows: errors.count,
                }));
            }
            let rows = out.rows;
            if self.dataset_type() == DatasetType::Interactions && rows < MIN_INTERACTIONS_PER_JOB {
                return Err(Error::Import(ImportFailure {
                    reason: format!(
                        "an import job into an Interactions dataset needs at least \
                         {MIN_INTERACTIONS_PER_JOB} records; {data_location} has {rows}"
                    ),
                    row_errors: Vec::new(),
                    bad_rows: 0,
                }));
            }
            out.finish()?;
            Ok(rows)
        })();
        let rows = match outcome {
            Ok(rows) => rows,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        };
        fsutil::rename_durable(&tmp, &final_path)?;
        let new = Segment {
            file: file_name,
            rows,
            seq,
        };
        let segments = match mode {
            ImportMode::Full => vec![new],
            ImportMode::Incremental => {
                let mut s = existing;
                s.push(new);
                s
            }
        };
        self.commit_segments(segments)?;
        Ok(rows)
    }

    /// Takes the dataset's write lock (an OS file lock, so other processes wait too).
    pub(crate) fn lock(&self) -> Result<File> {
        let path = self.dir().join(".lock");
        let f = fsutil::open_append(&path)?;
        f.lock().map_err(|e| Error::io(&path, e))?;
        Ok(f)
    }
}

fn is_avro(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("avro"))
}

/// A data location: a file, or a folder whose first-level `*.csv` files are read in
/// lexicographic order (spec 4.2, D-18).
fn resolve_location(location: &str) -> Result<Vec<PathBuf>> {
    let path_str = if let Some(rest) = location.strip_prefix("file://") {
        rest
    } else if location.contains("://") {
        return Err(invalid!(
            "Invalid Data location. {location:?}: use a local path or a file:// URL"
        ));
    } else {
        location
    };
    let path = PathBuf::from(path_str);
    let meta = fs::metadata(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            invalid!("Invalid Data location. {location} does not exist")
        }
        _ => Error::io(&path, e),
    })?;
    if meta.is_dir() {
        let mut files: Vec<PathBuf> = fs::read_dir(&path)
            .map_err(|e| Error::io(&path, e))?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(invalid!(
                "Invalid Data location. the folder {location} has no .csv files"
            ));
        }
        Ok(files)
    } else {
        Ok(vec![path])
    }
}

/// Checks a typed value (from an Avro source file or a Put* record) against a field, applying
/// the same limits as CSV cells.
pub(crate) fn check_value(field: &Field, value: Value) -> std::result::Result<Value, String> {
    let value = crate::record::from_avro_field(value);
    let type_error = |v: &Value| format!("expected {}, found {v:?}", field.ty);
    match (field.ty, value) {
        (_, Value::Null) if field.nullable => Ok(Value::Null),
        (_, Value::Null) => Err("null in a field that does not allow null".into()),
        (FieldType::String, Value::String(s)) => {
            if s.is_empty() {
                return if field.nullable {
                    Ok(Value::Null)
                } else {
                    Err("empty value in a field that does not allow null".into())
                };
            }
            match normalize_string(field, &s)? {
                Some(s) => Ok(Value::String(s)),
                None if field.nullable => Ok(Value::Null),
                None => Err("empty value in a field that does not allow null".into()),
            }
        }
        (FieldType::Int, Value::Int(i)) => Ok(Value::Int(i)),
        (FieldType::Long, Value::Long(i)) => check_long(field, i).map(|()| Value::Long(i)),
        (FieldType::Long, Value::Int(i)) => {
            check_long(field, i64::from(i)).map(|()| Value::Long(i64::from(i)))
        }
        (FieldType::Float, Value::Float(f)) if f.is_finite() => Ok(Value::Float(f)),
        (FieldType::Double, Value::Double(f)) if f.is_finite() => Ok(Value::Double(f)),
        (FieldType::Double, Value::Float(f)) if f.is_finite() => Ok(Value::Double(f64::from(f))),
        (FieldType::Boolean, Value::Boolean(b)) => Ok(Value::Boolean(b)),
        (_, v) => Err(type_error(&v)),
    }
}

fn import_avro(
    schema: &Schema,
    path: &Path,
    out: &mut SegmentWriter<'_>,
    errors: &mut Errors,
    progress: &dyn Progress,
) -> Result<()> {
    let file_label = path.display().to_string();
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let reader = apache_avro::Reader::new(std::io::BufReader::new(file))
        .map_err(|e| invalid!("{file_label} is not an Avro object container file: {e}"))?;
    // Map the file's fields to the dataset's by name.
    let file_fields: Vec<String> = match reader.writer_schema() {
        apache_avro::Schema::Record(r) => r.fields.iter().map(|f| f.name.clone()).collect(),
        _ => {
            return Err(invalid!(
                "{file_label}: the Avro file's schema is not a record"
            ))
        }
    };
    let missing: Vec<&str> = schema
        .fields()
        .iter()
        .filter(|f| !file_fields.contains(&f.name))
        .map(|f| f.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(invalid!(
            "{file_label}: Input file is missing the following columns:[{}]",
            missing.join(", ")
        ));
    }
    if let Some(extra) = file_fields.iter().find(|n| schema.field(n).is_none()) {
        return Err(invalid!(
            "{file_label}: field {extra} is not in the dataset's schema"
        ));
    }
    let positions: Vec<usize> = schema
        .fields()
        .iter()
        .map(|f| {
            file_fields
                .iter()
                .position(|n| *n == f.name)
                .expect("checked above")
        })
        .collect();
    let mut row: Vec<Value> = Vec::with_capacity(positions.len());
    for (i, rec) in reader.enumerate() {
        let record_no = i as u64 + 1;
        let rec = rec.map_err(|e| invalid!("{file_label} record {record_no}: {e}"))?;
        let Value::Record(mut values) = rec else {
            return Err(invalid!("{file_label} record {record_no}: not a record"));
        };
        row.clear();
        let mut ok = true;
        for (field, &pos) in schema.fields().iter().zip(&positions) {
            let v = std::mem::replace(&mut values[pos].1, Value::Null);
            match check_value(field, v) {
                Ok(v) => row.push(v),
                Err(msg) => {
                    errors.push(&file_label, record_no, Some(&field.name), msg);
                    ok = false;
                    break;
                }
            }
        }
        if ok && errors.count == 0 {
            out.append(&mut row)?;
        }
    }
    progress.advance(size);
    Ok(())
}
