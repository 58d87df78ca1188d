//! Import jobs from rows held in memory (a DataFrame, an iterable of records) rather than a file.
//!
//! The rows go through the same checks as a CSV file: the column names are matched to the
//! schema like a CSV header, and every value is checked by the CSV cell parser
//! ([`parse_cell`]) as the text a CSV file of the same data would hold, so the limits and the
//! error messages are the CLI's. Typed values skip the text round trip where it cannot change
//! the outcome (a whole number for a `long` field, a finite number for a `float` or `double`
//! field, a boolean for a `boolean` field). Errors name the source, the row (1-based, as the
//! records of an Avro file) and the column.

use apache_avro::types::Value;

use super::{csv_source, Progress};
use crate::error::{invalid, Error, Result};
use crate::record::{check_long, parse_cell};
use crate::schema::{Field, FieldType};
use crate::store::{Dataset, ImportJobInfo, ImportMode};

/// How often (in rows) progress is reported.
const PROGRESS_EVERY: u64 = 16_384;

/// One value of an in-memory row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// A missing value: an empty CSV cell.
    Null,
    /// Text, read exactly as the CSV cell holding it (trimmed, then parsed by the field's type).
    Text(String),
    /// A whole number.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

/// One row from an in-memory source.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceRow {
    /// The row's values, in the order of [`RowsImportRequest::columns`].
    Cells(Vec<Cell>),
    /// The source could not turn the record into a row (say, a record with other keys than
    /// the first); the message is reported as that row's error.
    Malformed(String),
}

/// What to import from rows in memory.
#[derive(Debug, Clone)]
pub struct RowsImportRequest {
    /// The job name (1-63 characters, unique per dataset).
    pub job_name: String,
    /// Names the source in errors and in the job's data location, e.g. `DataFrame`.
    pub source: String,
    /// FULL or INCREMENTAL.
    pub mode: ImportMode,
    /// The column names, matched to the schema's fields like a CSV header: every field must be
    /// present and every column must be a field.
    pub columns: Vec<String>,
    /// How many rows the source holds, when known (for progress).
    pub total_rows: Option<u64>,
}

impl Dataset {
    /// Runs a dataset import job over rows in memory: the same job, checks, atomicity and error
    /// report as [`Dataset::import`] of a CSV file holding the same rows. An `Err` from `rows`
    /// aborts the job (recorded as CREATE FAILED) and is returned as is.
    pub fn import_rows(
        &self,
        req: &RowsImportRequest,
        rows: impl Iterator<Item = Result<SourceRow>>,
        progress: &dyn Progress,
    ) -> Result<ImportJobInfo> {
        let label = req.source.as_str();
        self.record_job(&req.job_name, label, req.mode, || {
            self.write_segment(req.mode, label, |out, errors| {
                let columns = csv_source::map_columns(self.schema(), &req.columns)
                    .map_err(|e| invalid!("{label}: {e}"))?;
                let fields = self.schema().fields();
                progress.start("import", req.total_rows.unwrap_or(0));
                let mut row: Vec<Value> = Vec::with_capacity(fields.len());
                let mut since_progress = 0u64;
                for (k, item) in rows.enumerate() {
                    let line = k as u64 + 1;
                    since_progress += 1;
                    if since_progress == PROGRESS_EVERY {
                        progress.advance(since_progress);
                        since_progress = 0;
                    }
                    let mut cells = match item? {
                        SourceRow::Cells(cells) => cells,
                        SourceRow::Malformed(message) => {
                            errors.push(label, line, None, message);
                            continue;
                        }
                    };
                    if cells.len() != req.columns.len() {
                        errors.push(
                            label,
                            line,
                            None,
                            format!(
                                "the row has {} values, the columns are {}",
                                cells.len(),
                                req.columns.len()
                            ),
                        );
                        continue;
                    }
                    row.clear();
                    let mut ok = true;
                    for (field, &col) in fields.iter().zip(&columns) {
                        let cell = std::mem::replace(&mut cells[col], Cell::Null);
                        match check_cell(field, cell) {
                            Ok(v) => row.push(v),
                            Err(msg) => {
                                errors.push(label, line, Some(&field.name), msg);
                                ok = false;
                                break;
                            }
                        }
                    }
                    if ok && errors.count == 0 {
                        out.append(&mut row)?;
                    }
                }
                progress.advance(since_progress);
                progress.finish();
                Ok(())
            })
        })
    }
}

impl Dataset {
    /// A job name the dataset has not used: `import-<type>-<unix seconds>`, with a `-<n>` suffix
    /// when taken (the default of callers that do not name their jobs).
    pub fn unused_job_name(&self) -> Result<String> {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let kind = self
            .dataset_type()
            .as_str()
            .to_ascii_lowercase()
            .replace('_', "-");
        let base = format!("import-{kind}-{secs}");
        let mut name = base.clone();
        for n in 2.. {
            match self.import_job(&name) {
                Err(Error::NotFound { .. }) => break,
                Ok(_) => name = format!("{base}-{n}"),
                Err(e) => return Err(e),
            }
        }
        Ok(name)
    }
}

/// Checks one in-memory value for a field, with the CSV cell rules: the result (value or
/// message) is what [`parse_cell`] gives for the text a CSV file would hold for it (an integer
/// in decimal, a float as its shortest round-trip form, a boolean as `True`/`False`, a missing
/// value as an empty cell).
pub fn check_cell(field: &Field, cell: Cell) -> std::result::Result<Value, String> {
    match cell {
        Cell::Null => parse_cell(field, ""),
        Cell::Text(s) => parse_cell(field, s.trim_ascii()),
        Cell::Int(i) => match field.ty {
            FieldType::Long => check_long(field, i).map(|()| Value::Long(i)),
            _ => parse_cell(field, &i.to_string()),
        },
        Cell::Float(f) => match field.ty {
            FieldType::Double if f.is_finite() => Ok(Value::Double(f)),
            FieldType::Float if f.is_finite() && (f as f32).is_finite() => {
                Ok(Value::Float(f as f32))
            }
            _ => parse_cell(field, &format!("{f:?}")),
        },
        Cell::Bool(b) => match field.ty {
            FieldType::Boolean => Ok(Value::Boolean(b)),
            _ => parse_cell(field, if b { "True" } else { "False" }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::NoProgress;
    use crate::schema::fixtures::*;
    use crate::schema::{DatasetType, Schema};
    use crate::store::Store;

    fn field(schema: &str, name: &str) -> Field {
        Schema::parse(schema, None)
            .unwrap()
            .field(name)
            .unwrap()
            .clone()
    }

    /// A typed cell must give the same outcome as the text a CSV file holds for it.
    #[track_caller]
    fn same_as_csv(f: &Field, cell: Cell, text: &str) {
        assert_eq!(check_cell(f, cell), parse_cell(f, text));
    }

    #[test]
    fn typed_cells_match_their_csv_text() {
        let ts = field(INTERACTIONS_MINIMAL, "TIMESTAMP");
        let user = field(INTERACTIONS_MINIMAL, "USER_ID");
        same_as_csv(&ts, Cell::Int(1_700_000_000), "1700000000");
        same_as_csv(&ts, Cell::Int(-5), "-5");
        same_as_csv(&ts, Cell::Float(1.5), "1.5");
        same_as_csv(&ts, Cell::Float(964982703.0), "964982703.0");
        same_as_csv(&ts, Cell::Bool(true), "True");
        same_as_csv(&ts, Cell::Null, "");
        same_as_csv(&user, Cell::Int(42), "42");
        same_as_csv(&user, Cell::Text("  u1 ".into()), "u1");
        same_as_csv(&user, Cell::Text("a\"b".into()), "a\"b");
        assert!(check_cell(&user, Cell::Null)
            .unwrap_err()
            .contains("does not allow null"));
    }

    #[test]
    fn floats_are_checked_like_csv_numbers() {
        let value = field(INTERACTIONS_EVENT_VALUE, "EVENT_VALUE");
        assert_eq!(check_cell(&value, Cell::Float(4.5)), Ok(Value::Float(4.5)));
        assert_eq!(check_cell(&value, Cell::Int(4)), Ok(Value::Float(4.0)));
        same_as_csv(&value, Cell::Null, "");
        same_as_csv(&value, Cell::Float(f64::INFINITY), "inf");
        same_as_csv(&value, Cell::Float(1e300), "1e300");
        same_as_csv(&value, Cell::Text("abc".into()), "abc");
    }

    fn interactions(n: usize) -> Vec<Result<SourceRow>> {
        (0..n)
            .map(|k| {
                Ok(SourceRow::Cells(vec![
                    Cell::Int(k as i64 % 10),
                    Cell::Text(format!("i{}", k % 7)),
                    Cell::Int(1_700_000_000 + k as i64),
                ]))
            })
            .collect()
    }

    fn dataset() -> (tempfile::TempDir, Dataset) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("data")).unwrap();
        store.create_dataset_group("g", None).unwrap();
        store
            .create_schema("s", INTERACTIONS_MINIMAL, None)
            .unwrap();
        store
            .create_dataset("g", DatasetType::Interactions, "d", "s")
            .unwrap();
        let ds = store.dataset("g", DatasetType::Interactions).unwrap();
        (dir, ds)
    }

    fn request(columns: &[&str]) -> RowsImportRequest {
        RowsImportRequest {
            job_name: "j".into(),
            source: "DataFrame".into(),
            mode: ImportMode::Full,
            columns: columns.iter().map(|c| c.to_string()).collect(),
            total_rows: None,
        }
    }

    #[test]
    fn rows_import_like_a_csv_file() {
        let (_dir, ds) = dataset();
        let job = ds
            .import_rows(
                &request(&["USER_ID", "ITEM_ID", "TIMESTAMP"]),
                interactions(1200).into_iter(),
                &NoProgress,
            )
            .unwrap();
        assert_eq!((job.status.as_str(), job.rows_imported), ("ACTIVE", 1200));
        assert_eq!(job.data_location, "DataFrame");
        let mut first = None;
        ds.scan(|_, _, row| {
            first.get_or_insert_with(|| row.to_vec());
            Ok(())
        })
        .unwrap();
        assert_eq!(
            first.unwrap(),
            vec![
                Value::String("0".into()),
                Value::String("i0".into()),
                Value::Long(1_700_000_000)
            ]
        );
    }

    #[test]
    fn bad_rows_fail_the_job_with_row_and_column() {
        let (_dir, ds) = dataset();
        let mut rows = interactions(1200);
        rows[4] = Ok(SourceRow::Cells(vec![
            Cell::Int(1),
            Cell::Text("i".into()),
            Cell::Text("yesterday".into()),
        ]));
        rows[6] = Ok(SourceRow::Malformed("keys differ".into()));
        let err = ds
            .import_rows(
                &request(&["USER_ID", "ITEM_ID", "TIMESTAMP"]),
                rows.into_iter(),
                &NoProgress,
            )
            .unwrap_err();
        let Error::Import(failure) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(failure.bad_rows, 2);
        assert_eq!(
            failure.reason,
            "DataFrame line 5, column TIMESTAMP: \"yesterday\" is not a Unix timestamp in whole \
             seconds"
        );
        assert_eq!(
            failure.row_errors[1].to_string(),
            "DataFrame line 7: keys differ"
        );
        assert_eq!(ds.bulk_rows().unwrap(), 0);
        assert_eq!(ds.import_job("j").unwrap().status, "CREATE FAILED");
        let fresh = ds.unused_job_name().unwrap();
        assert!(fresh.starts_with("import-interactions-"), "{fresh}");
    }

    #[test]
    fn columns_are_checked_like_a_header() {
        let (_dir, ds) = dataset();
        let err = ds
            .import_rows(
                &request(&["USER_ID", "ITEM_ID"]),
                interactions(0).into_iter(),
                &NoProgress,
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "DataFrame: Input CSV is missing the following columns:[TIMESTAMP]"
        );
    }

    #[test]
    fn a_source_error_aborts_the_job() {
        let (_dir, ds) = dataset();
        let mut rows = interactions(1200);
        rows[1000] = Err(Error::Interrupted);
        let err = ds
            .import_rows(
                &request(&["USER_ID", "ITEM_ID", "TIMESTAMP"]),
                rows.into_iter(),
                &NoProgress,
            )
            .unwrap_err();
        assert!(matches!(err, Error::Interrupted));
        assert_eq!(ds.bulk_rows().unwrap(), 0);
    }
}
