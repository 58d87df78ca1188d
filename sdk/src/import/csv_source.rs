//! CSV files in Personalize's dialect (spec 3.1-3.2, D-12, D-15, D-17): a header row of schema
//! field names mapped by name, comma-separated, RFC-4180 quoting plus `\"` and `\\` escapes,
//! unquoted cells trimmed, one record per line, empty cell = null.
//!
//! Details of the dialect:
//! - Records end with LF, CRLF or CR; a UTF-8 byte order mark before the header is skipped.
//! - Inside double quotes, `""` is a quote and a backslash escapes the next character (`\"` is
//!   a quote, `\\` a backslash). Outside quotes a backslash is an ordinary character.
//! - ASCII whitespace around every cell (and header name) is trimmed.
//! - A record that spans several lines (a quoted value holding a line break, or a quote that is
//!   never closed) is a row error at the line it starts on: "each record must be on a single
//!   line".
//! - Lines that are empty or hold only whitespace are skipped.

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
        // Cells are trimmed by `trim` after the line-break check, which must see them whole.
        .trim(csv::Trim::None);
    b
}

/// Trims ASCII whitespace around a cell.
fn trim(cell: &[u8]) -> &[u8] {
    cell.trim_ascii()
}

/// Whether a raw (untrimmed) record is a blank line.
fn is_blank(record: &csv::ByteRecord) -> bool {
    record.len() == 1 && record.get(0).is_some_and(|c| trim(c).is_empty())
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
        return Err(invalid!(
            "{file_label} is empty; the first row must be the column headers"
        ));
    }
    let names: Vec<String> = record
        .iter()
        .map(|c| String::from_utf8_lossy(trim(c)).into_owned())
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
        let pos = record
            .position()
            .expect("records read from a reader have a position");
        let line = pos.line();
        rows_since_progress += 1;
        if rows_since_progress == PROGRESS_EVERY {
            rows_since_progress = 0;
            progress.advance(pos.byte() - last_reported);
            last_reported = pos.byte();
        }
        if is_blank(&record) {
            continue;
        }
        let line_break = |c: &[u8]| c.iter().any(|b| matches!(b, b'\n' | b'\r'));
        if line_break(record.as_slice()) {
            let col = record.iter().position(line_break);
            errors.push(
                &file_label,
                line,
                col.and_then(|c| names.get(c)).map(String::as_str),
                "the record spans several lines (a quoted value holds a line break, or a closing \
                 double quote is missing); each record must be on a single line"
                    .into(),
            );
            continue;
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
                        " (is a column missing?)"
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
            let bytes = trim(&record[col]);
            let cell = match std::str::from_utf8(bytes) {
                Ok(s) => s,
                Err(_) => {
                    errors.push(
                        &file_label,
                        line,
                        Some(&field.name),
                        "not valid UTF-8".into(),
                    );
                    ok = false;
                    break;
                }
            };
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
pub(super) fn map_columns(
    schema: &Schema,
    names: &[String],
) -> std::result::Result<Vec<usize>, String> {
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
        .map(|f| {
            names
                .iter()
                .position(|n| *n == f.name)
                .expect("checked above")
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use apache_avro::types::Value;

    use super::*;
    use crate::error::RowError;
    use crate::record::from_avro_field;
    use crate::schema::fixtures::*;
    use crate::schema::Domain;

    /// The cells of `text` as read by the dialect (unquoted, unescaped, trimmed).
    fn cells(text: &str) -> Vec<Vec<String>> {
        let mut rdr = reader_builder().from_reader(text.as_bytes());
        let mut out = Vec::new();
        for rec in rdr.byte_records() {
            let rec = rec.expect("the reader does not fail on bytes");
            if is_blank(&rec) {
                continue;
            }
            out.push(
                rec.iter()
                    .map(|c| String::from_utf8(trim(c).to_vec()).unwrap())
                    .collect(),
            );
        }
        out
    }

    /// Imports `csv` for a schema through `import_csv` into a segment file and reads the rows
    /// back as plain values. Returns the rows and the row errors.
    fn import(
        schema: &str,
        domain: Option<Domain>,
        csv: impl AsRef<[u8]>,
    ) -> (Vec<Vec<Value>>, Vec<RowError>) {
        let dir = tempfile::tempdir().unwrap();
        let schema = Schema::parse(schema, domain).unwrap();
        let csv_path = dir.path().join("data.csv");
        std::fs::write(&csv_path, csv).unwrap();
        let seg: PathBuf = dir.path().join("seg.avro");
        let mut out = SegmentWriter::create(&schema, &seg).unwrap();
        let mut errors = Errors::default();
        let mut header = None;
        import_csv(
            &schema,
            &csv_path,
            &mut header,
            &mut out,
            &mut errors,
            &super::super::NoProgress,
        )
        .unwrap();
        out.finish().unwrap();
        let file = std::fs::File::open(&seg).unwrap();
        let rows = apache_avro::Reader::new(file)
            .unwrap()
            .map(|r| match r.unwrap() {
                Value::Record(fields) => fields
                    .into_iter()
                    .map(|(_, v)| from_avro_field(v))
                    .collect(),
                other => panic!("not a record: {other:?}"),
            })
            .collect();
        (rows, errors.list)
    }

    /// Imports `csv`, which must have no errors.
    #[track_caller]
    fn import_ok(schema: &str, domain: Option<Domain>, csv: &str) -> Vec<Vec<Value>> {
        let (rows, errors) = import(schema, domain, csv);
        assert!(errors.is_empty(), "{errors:?}");
        rows
    }

    /// Imports `csv`, which must fail with exactly one error at `line` (and `column`) whose
    /// message contains `part`.
    #[track_caller]
    fn import_err(schema: &str, csv: &str, line: u64, column: Option<&str>, part: &str) {
        let (_, errors) = import(schema, None, csv);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let e = &errors[0];
        assert_eq!((e.line, e.column.as_deref()), (line, column), "{e}");
        assert!(e.message.contains(part), "{:?} lacks {part:?}", e.message);
    }

    fn s(v: &str) -> Value {
        Value::String(v.to_owned())
    }

    #[test]
    fn rfc_4180_doubled_quotes() {
        assert_eq!(
            cells("a,\"He said \"\"hi\"\"\",\"x,y\"\n"),
            [["a", "He said \"hi\"", "x,y"]]
        );
        assert_eq!(cells("\"\"\"\"\n"), [["\""]]);
        assert_eq!(cells("a,\"\",b\n"), [["a", "", "b"]]);
    }

    #[test]
    fn backslash_escapes_inside_quotes() {
        assert_eq!(
            cells(r#"1,"a \"quoted\" word, and a \\ backslash""#),
            [["1", r#"a "quoted" word, and a \ backslash"#]]
        );
        // Both escapes may appear in one value.
        assert_eq!(cells(r#""\"x\" and ""y""""#), [[r#""x" and "y""#]]);
        // Outside quotes a backslash is an ordinary character.
        assert_eq!(cells(r"C:\temp,a\b"), [[r"C:\temp", r"a\b"]]);
    }

    #[test]
    fn unquoted_cells_are_trimmed() {
        assert_eq!(
            cells("USER_ID, ITEM_ID, TIMESTAMP, EVENT_TYPE\n1,1,964982703, watch\n"),
            [
                ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"],
                ["1", "1", "964982703", "watch"]
            ]
        );
        assert_eq!(cells("\t a ,b  \n"), [["a", "b"]]);
    }

    #[test]
    fn crlf_line_endings_and_blank_lines() {
        let rows = import_ok(
            INTERACTIONS_EVENT_VALUE,
            None,
            "USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP\r\n196,242,click,15,881250949\r\n\r\n   \r\n186,302,click,13,891717742\r\n",
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1][2], s("click"));
        assert_eq!(rows[1][4], Value::Long(891_717_742));
        assert_eq!(cells("a,b\r\nc,d"), [["a", "b"], ["c", "d"]]);
    }

    #[test]
    fn a_byte_order_mark_before_the_header_is_skipped() {
        let rows = import_ok(
            USERS_CUSTOM,
            None,
            "\u{feff}USER_ID,AGE,GENDER\n5,34,Male\n",
        );
        assert_eq!(rows, [vec![s("5"), Value::Int(34), s("Male")]]);
    }

    #[test]
    fn the_interactions_data_example() {
        let csv = "USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP
196,242,click,15,881250949
186,302,click,13,891717742
22,377,click,10,878887116
244,51,click,20,880606923
166,346,click,10,886397596
298,474,click,40,884182806
115,265,click,20,881171488
253,465,click,50,891628467
305,451,click,30,886324817
";
        let rows = import_ok(INTERACTIONS_EVENT_VALUE, None, csv);
        assert_eq!(rows.len(), 9);
        assert_eq!(
            rows[0],
            [
                s("196"),
                s("242"),
                s("click"),
                Value::Float(15.0),
                Value::Long(881_250_949)
            ]
        );
        assert_eq!(rows[8][3], Value::Float(30.0));
    }

    #[test]
    fn the_movielens_getting_started_file() {
        // The header order differs from the schema's; columns map by name.
        let csv =
            "USER_ID, ITEM_ID, TIMESTAMP, EVENT_TYPE\n1,1,964982703, watch\n1,3,964981247, watch\n";
        let rows = import_ok(VOD_INTERACTIONS, Some(Domain::VideoOnDemand), csv);
        assert_eq!(
            rows[0],
            [s("1"), s("1"), s("watch"), Value::Long(964_982_703)]
        );
        assert_eq!(rows[1][1], s("3"));
    }

    #[test]
    fn the_interactions_example_with_impressions() {
        let csv =
            "USER_ID, ITEM_ID, EVENT_TYPE, EVENT_VALUE, LOCATION, DEVICE, TIMESTAMP, IMPRESSION
35,73,click,,Ohio,Tablet,1586731606,73|70|17|95|96
54, 35, watch, 0.75, Indiana, Cellphone, 1586735164, 35 | 82 | 78 | 57 | 20 | 63 | 1 | 90
9,33,click,,Oregon,,1586735158,68|33|62|6|15
";
        let rows = import_ok(INTERACTIONS_CUSTOM, None, csv);
        assert_eq!(
            rows[0],
            [
                s("35"),
                s("73"),
                s("click"),
                Value::Null,
                s("Ohio"),
                s("Tablet"),
                Value::Long(1_586_731_606),
                s("73|70|17|95|96"),
            ]
        );
        assert_eq!(rows[1][3], Value::Float(0.75));
        assert_eq!(rows[1][7], s("35|82|78|57|20|63|1|90"));
        assert_eq!(rows[2][5], Value::Null);
    }

    #[test]
    fn the_items_example() {
        let csv = r#"ITEM_ID,GENRES,CREATION_TIMESTAMP,DESCRIPTION
1,Adventure|Animation|Children|Comedy|Fantasy,1570003267,"This is an animated movie that features action, comedy, and fantasy. Audience is children. This movie was released in 2004."
2,Adventure|Children|Fantasy,1571730101,"This is an adventure movie with elements of fantasy. Audience is children. This movie was release in 2010."
3,Comedy|Romance,1560515629,"This is a romantic comedy. The movie was released in 1999. Audience is young women."
4,,1581670067,
"#;
        let rows = import_ok(ITEMS_CUSTOM, None, csv);
        assert_eq!(rows.len(), 4);
        assert_eq!(
            rows[0],
            [
                s("1"),
                s("Adventure|Animation|Children|Comedy|Fantasy"),
                Value::Long(1_570_003_267),
                s(
                    "This is an animated movie that features action, comedy, and fantasy. \
                   Audience is children. This movie was released in 2004."
                ),
            ]
        );
        assert_eq!(rows[3][1], Value::Null);
        assert_eq!(rows[3][3], Value::Null);
    }

    #[test]
    fn the_users_actions_and_action_interactions_examples() {
        let rows = import_ok(
            USERS_CUSTOM,
            None,
            "USER_ID,AGE,GENDER\n5,34,Male\n6,56,Female\n8,65,Male\n",
        );
        assert_eq!(rows[1], [s("6"), Value::Int(56), s("Female")]);
        let rows = import_ok(
            ACTIONS_CUSTOM,
            None,
            "ACTION_ID,VALUE,MEMBERSHIP_LEVEL,CREATION_TIMESTAMP,REPEAT_FREQUENCY
1,10,Deluxe|Premium,1510003267,7
2,5,Basic,1580003267,7
3,5,Preview,1590003267,3
4,10,Deluxe|Platinum,1560003267,4
",
        );
        assert_eq!(
            rows[3],
            [
                s("4"),
                Value::Long(10),
                s("Deluxe|Platinum"),
                Value::Long(1_560_003_267),
                Value::Long(4)
            ]
        );
        let rows = import_ok(
            ACTION_INTERACTIONS_CUSTOM,
            None,
            "USER_ID,ACTION_ID,EVENT_TYPE,TIMESTAMP\n35,73,Viewed,1586731606\n54,35,Not taken,1586731609\n",
        );
        assert_eq!(
            rows[1],
            [s("54"), s("35"), s("Not taken"), Value::Long(1_586_731_609)]
        );
    }

    #[test]
    fn domain_default_schemas_with_one_element_unions_import() {
        let rows = import_ok(
            VOD_ITEMS,
            Some(Domain::VideoOnDemand),
            "ITEM_ID,GENRES,CREATION_TIMESTAMP\n1,Action|Crime|Biopic,1570003267\n",
        );
        assert_eq!(
            rows,
            [vec![
                s("1"),
                s("Action|Crime|Biopic"),
                Value::Long(1_570_003_267)
            ]]
        );
        let rows = import_ok(
            ECOMMERCE_ITEMS,
            Some(Domain::Ecommerce),
            "ITEM_ID,PRICE,CATEGORY_L1\nitem_123,19.99,Electronics | Productivity | Mouse\n",
        );
        assert_eq!(
            rows,
            [vec![
                s("item_123"),
                Value::Float(19.99),
                s("Electronics|Productivity|Mouse")
            ]]
        );
    }

    #[test]
    fn an_unterminated_quote_is_reported_at_its_line() {
        let csv = "ITEM_ID,GENRES,CREATION_TIMESTAMP,DESCRIPTION
1,Comedy,1570003267,\"fine\"
2,Drama,1571730101,\"never closed
3,Comedy,1560515629,\"x\"
";
        import_err(
            ITEMS_CUSTOM,
            csv,
            3,
            Some("DESCRIPTION"),
            "each record must be on a single line",
        );
        import_err(
            ITEMS_CUSTOM,
            csv,
            3,
            Some("DESCRIPTION"),
            "a closing double quote is missing",
        );
    }

    #[test]
    fn a_quoted_value_with_a_line_break_is_rejected() {
        // The guide's Items example as printed, wrapped inside the quotes.
        let csv = "ITEM_ID,GENRES,CREATION_TIMESTAMP,DESCRIPTION
1,Adventure|Animation|Children|Comedy|Fantasy,1570003267,\"This is an animated movie
that features action, comedy, and fantasy.\"
";
        import_err(
            ITEMS_CUSTOM,
            csv,
            2,
            Some("DESCRIPTION"),
            "each record must be on a single line",
        );
        // Even when the line break is at the end of the value.
        let csv =
            "ITEM_ID,GENRES,CREATION_TIMESTAMP,DESCRIPTION\n1,Comedy,1570003267,\"text\r\n\"\n";
        import_err(ITEMS_CUSTOM, csv, 2, Some("DESCRIPTION"), "single line");
        // Later rows keep their own line numbers.
        let csv = "ITEM_ID,GENRES,CREATION_TIMESTAMP,DESCRIPTION
1,Comedy,1570003267,\"a
b\"
2,Comedy,1570003267,x
3,Comedy,x,x
";
        let (_, errors) = import(ITEMS_CUSTOM, None, csv);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(
            (errors[1].line, errors[1].column.as_deref()),
            (5, Some("CREATION_TIMESTAMP"))
        );
    }

    #[test]
    fn cell_errors_name_line_and_column() {
        let csv = "USER_ID,ITEM_ID,TIMESTAMP\n1,1,964982703\n1,2,2020-01-01\n";
        import_err(
            INTERACTIONS_MINIMAL,
            csv,
            3,
            Some("TIMESTAMP"),
            "not a Unix timestamp in whole seconds",
        );
        let csv = "USER_ID,ITEM_ID,TIMESTAMP\n1,,964982703\n";
        import_err(
            INTERACTIONS_MINIMAL,
            csv,
            2,
            Some("ITEM_ID"),
            "does not allow null",
        );
        let csv = "USER_ID,ITEM_ID,TIMESTAMP\n1,a|b,964982703\n";
        import_err(
            INTERACTIONS_MINIMAL,
            csv,
            2,
            Some("ITEM_ID"),
            "cannot contain a '|'",
        );
        let csv = "USER_ID,ITEM_ID,TIMESTAMP\n1,2\n";
        import_err(
            INTERACTIONS_MINIMAL,
            csv,
            2,
            None,
            "the row has 2 columns, the header 3",
        );
        let csv = "USER_ID,ITEM_ID,TIMESTAMP\n1,2,3,4\n";
        import_err(
            INTERACTIONS_MINIMAL,
            csv,
            2,
            None,
            "with a comma not wrapped in double quotes",
        );
        let (_, errors) = import(
            INTERACTIONS_MINIMAL,
            None,
            b"USER_ID,ITEM_ID,TIMESTAMP\n1,\xff,3\n",
        );
        assert_eq!(
            (errors[0].line, errors[0].column.as_deref()),
            (2, Some("ITEM_ID"))
        );
        assert_eq!(errors[0].message, "not valid UTF-8");
    }

    #[test]
    fn limits_apply_through_csv() {
        let genres = "G".repeat(1001);
        let csv =
            format!("ITEM_ID,GENRES,CREATION_TIMESTAMP,DESCRIPTION\n1,{genres},1570003267,\n");
        import_err(
            ITEMS_CUSTOM,
            &csv,
            2,
            Some("GENRES"),
            "at most 1000 characters",
        );
        let text = "t".repeat(20_001);
        let csv =
            format!("ITEM_ID,GENRES,CREATION_TIMESTAMP,DESCRIPTION\n1,,1570003267,\"{text}\"\n");
        let rows = import_ok(ITEMS_CUSTOM, None, &csv);
        assert_eq!(rows[0][3], s(&"t".repeat(20_000)));
    }

    #[test]
    fn header_errors() {
        let dir = tempfile::tempdir().unwrap();
        let schema = Schema::parse(VOD_INTERACTIONS, Some(Domain::VideoOnDemand)).unwrap();
        let run = |csv: &str| {
            let path = dir.path().join("h.csv");
            std::fs::write(&path, csv).unwrap();
            let mut out = SegmentWriter::create(&schema, &dir.path().join("s.avro")).unwrap();
            let mut errors = Errors::default();
            import_csv(
                &schema,
                &path,
                &mut None,
                &mut out,
                &mut errors,
                &super::super::NoProgress,
            )
            .unwrap_err()
            .to_string()
        };
        let e = run("USER_ID,ITEM_ID,TIMESTAMP\n1,1,964982703\n");
        assert!(
            e.contains("Input CSV is missing the following columns:[EVENT_TYPE]"),
            "{e}"
        );
        let e = run("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,RATING\n");
        assert!(e.contains("column RATING is not a field"), "{e}");
        let e = run("USER_ID,ITEM_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n");
        assert!(e.contains("names column ITEM_ID twice"), "{e}");
        let e = run("");
        assert!(
            e.contains("is empty; the first row must be the column headers"),
            "{e}"
        );
    }

    #[test]
    fn import_through_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Store::open(dir.path()).unwrap();
        store.create_schema("items", ITEMS_CUSTOM, None).unwrap();
        store.create_dataset_group("g", None).unwrap();
        store
            .create_dataset("g", crate::DatasetType::Items, "items", "items")
            .unwrap();
        let csv = dir.path().join("items.csv");
        std::fs::write(
            &csv,
            "ITEM_ID,GENRES,CREATION_TIMESTAMP,DESCRIPTION\r\n\
             1,Adventure|Animation|Children|Comedy|Fantasy,1570003267,\"This is an animated movie ...\"\r\n\
             2, Comedy | Romance ,1560515629,\"She said \\\"hi\\\" and \"\"bye\"\"\"\r\n",
        )
        .unwrap();
        let ds = store.dataset("g", crate::DatasetType::Items).unwrap();
        let job = ds
            .import(
                &crate::import::ImportRequest {
                    job_name: "job".into(),
                    data_location: csv.display().to_string(),
                    mode: crate::ImportMode::Full,
                },
                &super::super::NoProgress,
            )
            .unwrap();
        assert_eq!(job.rows_imported, 2);
        let mut rows = Vec::new();
        ds.scan(|_, _, values| {
            rows.push(values.to_vec());
            Ok(())
        })
        .unwrap();
        assert_eq!(rows[0][3], s("This is an animated movie ..."));
        assert_eq!(rows[1][1], s("Comedy|Romance"));
        assert_eq!(rows[1][3], s("She said \"hi\" and \"bye\""));

        // The VOD default Items schema (GENRES is ["string"]).
        let vod = Some(Domain::VideoOnDemand);
        store.create_schema("vod-items", VOD_ITEMS, vod).unwrap();
        store.create_dataset_group("vod", vod).unwrap();
        store
            .create_dataset("vod", crate::DatasetType::Items, "items", "vod-items")
            .unwrap();
        std::fs::write(
            &csv,
            "ITEM_ID,GENRES,CREATION_TIMESTAMP\n1,Action|Adventure,1570003267\n",
        )
        .unwrap();
        let ds = store.dataset("vod", crate::DatasetType::Items).unwrap();
        ds.import(
            &crate::import::ImportRequest {
                job_name: "job".into(),
                data_location: csv.display().to_string(),
                mode: crate::ImportMode::Full,
            },
            &super::super::NoProgress,
        )
        .unwrap();
        let mut rows = Vec::new();
        ds.scan(|_, _, values| {
            rows.push(values.to_vec());
            Ok(())
        })
        .unwrap();
        assert_eq!(
            rows,
            [vec![
                s("1"),
                s("Action|Adventure"),
                Value::Long(1_570_003_267)
            ]]
        );
    }
}
