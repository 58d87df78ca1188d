//! CSV files in Personalize's dialect (spec 3.1-3.2, D-12, D-15, D-17): a header row of schema
//! field names mapped by name, comma-separated, RFC-4180 quoting plus `\"` and `\\` escapes,
//! unquoted cells trimmed, one record per line, empty cell = null.

use std::fs::File;
use std::path::Path;

use apache_avro::types::Value;

use super::{Errors, Progress, SegmentWriter};
use crate::error::{invalid, Error, Result};
use crate::record::parse_cell;
use crate::schema::Schema;

/// How often (in rows) progress is reported.
const PROGRESS_EVERY: u64 = 16_384;

pub(super) fn reader_builder() -> csv::ReaderBuilder {
    let mut b = csv::ReaderBuilder::new();
    b.has_headers(false)
        .flexible(true)
        .double_quote(true)
        .escape(Some(b'\\'))
        .trim(csv::Trim::All);
    b
}

/// Reads one CSV file into `out`, collecting row errors. `header` is the first file's header;
/// every later file of a folder must have the same one.
pub(super) fn import_csv(
    schema: &Schema,
    path: &Path,
    header: &mut Option<Vec<String>>,
    out: &mut SegmentWriter<'_>,
    errors: &mut Errors,
    progress: &dyn Progress,
) -> Result<()> {
    let file_label = path.display().to_string();
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut rdr = reader_builder().from_reader(std::io::BufReader::with_capacity(1 << 20, file));
    let mut record = csv::ByteRecord::new();

    // The header.
    let has_header = rdr
        .read_byte_record(&mut record)
        .map_err(|e| invalid!("{file_label}: cannot read the header: {e}"))?;
    if !has_header {
        return Err(invalid!("{file_label} is empty; the first row must be the column headers"));
    }
    let names: Vec<String> = record
        .iter()
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    match header {
        Some(first) if *first != names => {
            return Err(invalid!(
                "{file_label}: the header {names:?} differs from the first file's {first:?}; \
                 all files of a folder must have the same columns"
            ))
        }
        _ => *header = Some(names.clone()),
    }
    let columns = map_columns(schema, &names).map_err(|e| invalid!("{file_label}: {e}"))?;

    let fields = schema.fields();
    let mut row: Vec<Value> = Vec::with_capacity(fields.len());
    let mut last_reported = 0u64;
    let mut rows_since_progress = 0u64;
    loop {
        match rdr.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(&file_label, line, None, format!("malformed CSV: {e}"));
                // The csv reader cannot resynchronise inside a broken quote; stop the file.
                break;
            }
        }
        let pos = record.position().expect("records read from a reader have a position");
        let line = pos.line();
        rows_since_progress += 1;
        if rows_since_progress == PROGRESS_EVERY {
            rows_since_progress = 0;
            progress.advance(pos.byte() - last_reported);
            last_reported = pos.byte();
        }
        if record.len() == 1 && record.get(0).is_some_and(<[u8]>::is_empty) {
            continue; // a blank line
        }
        if record.len() != names.len() {
            errors.push(
                &file_label,
                line,
                None,
                format!(
                    "the row has {} columns, the header {}{}",
                    record.len(),
                    names.len(),
                    if record.len() < names.len() {
                        " (is a textual value not wrapped in double quotes, or split across lines?)"
                    } else {
                        " (is a value with a comma not wrapped in double quotes?)"
                    }
                ),
            );
            continue;
        }
        row.clear();
        let mut ok = true;
        for (field, &col) in fields.iter().zip(&columns) {
            let bytes = &record[col];
            let cell = match std::str::from_utf8(bytes) {
                Ok(s) => s,
                Err(_) => {
                    errors.push(&file_label, line, Some(&field.name), "not valid UTF-8".into());
                    ok = false;
                    break;
                }
            };
            if cell.contains(['\n', '\r']) {
                errors.push(
                    &file_label,
                    line,
                    Some(&field.name),
                    "a value spans several lines; each record must be on a single line".into(),
                );
                ok = false;
                break;
            }
            match parse_cell(field, cell) {
                Ok(v) => row.push(v),
                Err(msg) => {
                    errors.push(&file_label, line, Some(&field.name), msg);
                    ok = false;
                    break;
                }
            }
        }
        if ok && errors.count == 0 {
            out.append(&mut row)?;
        }
    }
    let end = rdr.position().byte();
    progress.advance(end.saturating_sub(last_reported));
    Ok(())
}

/// For each schema field, the CSV column holding it. Every schema field must have a column
/// ("Input CSV is missing the following columns"), and every column must be a schema field.
fn map_columns(schema: &Schema, names: &[String]) -> std::result::Result<Vec<usize>, String> {
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(format!("the header names column {n} twice"));
        }
    }
    let missing: Vec<&str> = schema
        .fields()
        .iter()
        .filter(|f| !names.contains(&f.name))
        .map(|f| f.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "Input CSV is missing the following columns:[{}]",
            missing.join(", ")
        ));
    }
    if let Some(extra) = names.iter().find(|n| schema.field(n).is_none()) {
        return Err(format!(
            "column {extra} is not a field of the {} schema (fields: {})",
            schema.dataset_type(),
            schema
                .fields()
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(schema
        .fields()
        .iter()
        .map(|f| names.iter().position(|n| *n == f.name).expect("checked above"))
        .collect())
}
