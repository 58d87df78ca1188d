//! Bulk import through the SDK: MovieLens end to end, and every kind of bad input, each failure
//! naming the line and the field and leaving the dataset as it was.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use apache_avro::types::Value;
use attune::import::{ImportRequest, NoProgress};
use attune::store::{ImportJobInfo, Origin};
use attune::{Dataset, DatasetType, Error, ImportMode, Store};
use tempfile::TempDir;
use tests::{movielens_or_skip, movielens_to_personalize, quote};

const INTERACTIONS_SCHEMA: &str = r#"{
  "type": "record", "name": "Interactions",
  "namespace": "com.amazonaws.personalize.schema",
  "fields": [
    { "name": "USER_ID", "type": "string" },
    { "name": "ITEM_ID", "type": "string" },
    { "name": "EVENT_TYPE", "type": "string" },
    { "name": "EVENT_VALUE", "type": ["null", "float"] },
    { "name": "TIMESTAMP", "type": "long" }
  ],
  "version": "1.0"
}"#;

const ITEMS_SCHEMA: &str = r#"{
  "type": "record", "name": "Items",
  "namespace": "com.amazonaws.personalize.schema",
  "fields": [
    { "name": "ITEM_ID", "type": "string" },
    { "name": "DESCRIPTION", "type": ["null", "string"], "textual": true },
    { "name": "GENRES", "type": ["null", "string"], "categorical": true }
  ],
  "version": "1.0"
}"#;

const HEADER: &str = "USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP";

/// The row index (0-based, after the header) where the bad-input tests put their bad row; it
/// is on line `BAD_INDEX + 2` of the file.
const BAD_INDEX: usize = 500;
const BAD_LINE: u64 = BAD_INDEX as u64 + 2;

struct Fixture {
    dir: TempDir,
    store: Store,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("data")).unwrap();
        store.create_dataset_group("g", None).unwrap();
        Fixture { dir, store }
    }

    fn dataset(&self, dataset_type: DatasetType, schema: &str) -> Dataset {
        let name = format!("g-{dataset_type}");
        self.store.create_schema(&name, schema, None).unwrap();
        self.store
            .create_dataset("g", dataset_type, &name, &name)
            .unwrap();
        self.store.dataset("g", dataset_type).unwrap()
    }

    fn interactions(&self) -> Dataset {
        self.dataset(DatasetType::Interactions, INTERACTIONS_SCHEMA)
    }

    fn items(&self) -> Dataset {
        self.dataset(DatasetType::Items, ITEMS_SCHEMA)
    }

    fn file(&self, name: &str, content: &str) -> PathBuf {
        let path = self.dir.path().join("input").join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, content).unwrap();
        path
    }
}

fn import(
    dataset: &Dataset,
    job: &str,
    path: &Path,
    mode: ImportMode,
) -> attune::Result<ImportJobInfo> {
    dataset.import(
        &ImportRequest {
            job_name: job.into(),
            data_location: path.display().to_string(),
            mode,
        },
        &NoProgress,
    )
}

/// A good interaction row.
fn row(i: usize) -> String {
    format!("u{},i{},click,1.5,{}", i % 50, i % 200, 1_600_000_000 + i)
}

/// An interactions file of `n` good rows.
fn interactions_csv(n: usize) -> String {
    let mut s = format!("{HEADER}\n");
    for i in 0..n {
        s.push_str(&row(i));
        s.push('\n');
    }
    s
}

/// 1,000 good rows with `bad` in place of row [`BAD_INDEX`].
fn with_bad_row(bad: &str) -> String {
    let mut s = format!("{HEADER}\n");
    for i in 0..1000 {
        s.push_str(&if i == BAD_INDEX {
            bad.to_owned()
        } else {
            row(i)
        });
        s.push('\n');
    }
    s
}

/// Every stored record's values as strings (null as `None`).
fn rows(dataset: &Dataset) -> Vec<Vec<Option<String>>> {
    let mut out = Vec::new();
    dataset
        .scan(|_, _, values| {
            out.push(values.iter().map(text).collect());
            Ok(())
        })
        .unwrap();
    out
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Long(n) => Some(n.to_string()),
        Value::Int(n) => Some(n.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(f) => Some(f.to_string()),
        Value::Boolean(b) => Some(b.to_string()),
        other => panic!("unexpected value {other:?}"),
    }
}

/// Imports `content` into a fresh Interactions dataset that already holds 1,000 good rows,
/// expects a row error on [`BAD_LINE`] in `column` whose message contains `needle`, and checks
/// that the dataset kept its rows and recorded the job as failed.
fn expect_row_error(content: &str, column: &str, needle: &str) {
    let fx = Fixture::new();
    let ds = fx.interactions();
    let good = fx.file("good.csv", &interactions_csv(1000));
    import(&ds, "good", &good, ImportMode::Full).unwrap();
    let before = rows(&ds);

    let bad = fx.file("bad.csv", content);
    let err = import(&ds, "bad", &bad, ImportMode::Full).unwrap_err();
    let Error::Import(failure) = &err else {
        panic!("expected an import failure, got {err:?}");
    };
    let first = &failure.row_errors[0];
    assert_eq!(first.line, BAD_LINE, "{err}");
    assert_eq!(first.column.as_deref(), Some(column), "{err}");
    assert!(first.message.contains(needle), "{err}");
    let message = err.to_string();
    assert!(message.contains(&format!("line {BAD_LINE}")), "{message}");
    assert!(message.contains(column), "{message}");

    assert_eq!(ds.bulk_rows().unwrap(), 1000);
    assert_eq!(
        rows(&ds),
        before,
        "a failed job must not change the dataset"
    );
    let job = ds.import_job("bad").unwrap();
    assert_eq!(job.status, "CREATE FAILED");
    assert!(job
        .failure_reason
        .unwrap()
        .contains(&format!("line {BAD_LINE}")));
}

#[test]
fn wrong_type_names_line_and_field() {
    expect_row_error(
        &with_bad_row("u1,i1,click,x,1600000000"),
        "EVENT_VALUE",
        "\"x\"",
    );
}

#[test]
fn over_long_id_names_line_and_field() {
    let id = "a".repeat(257);
    expect_row_error(
        &with_bad_row(&format!("{id},i1,click,1.0,1600000000")),
        "USER_ID",
        "256",
    );
}

#[test]
fn bad_timestamp_names_line_and_field() {
    expect_row_error(
        &with_bad_row("u1,i1,click,1.0,2020-01-01"),
        "TIMESTAMP",
        "2020-01-01",
    );
}

#[test]
fn unterminated_quote_names_line_and_field() {
    // The quote opened in the last column swallows the rest of the file.
    expect_row_error(
        &with_bad_row("u1,i1,click,1.0,\"1600000000"),
        "TIMESTAMP",
        "single line",
    );
}

#[test]
fn missing_column_is_named() {
    let fx = Fixture::new();
    let ds = fx.interactions();
    let mut content = String::from("USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP\n");
    for i in 0..1000 {
        content.push_str(&format!("u{i},i{i},click,{}\n", 1_600_000_000 + i));
    }
    let path = fx.file("missing.csv", &content);
    let err = import(&ds, "missing", &path, ImportMode::Full).unwrap_err();
    assert!(
        err.to_string()
            .contains("Input CSV is missing the following columns:[EVENT_VALUE]"),
        "{err}"
    );
    assert_eq!(ds.bulk_rows().unwrap(), 0);
    let job = ds.import_job("missing").unwrap();
    assert_eq!(job.status, "CREATE FAILED");
    assert!(job.failure_reason.unwrap().contains("EVENT_VALUE"));
}

#[test]
fn categorical_event_type_schema_is_rejected() {
    let fx = Fixture::new();
    let schema = INTERACTIONS_SCHEMA.replace(
        r#"{ "name": "EVENT_TYPE", "type": "string" }"#,
        r#"{ "name": "EVENT_TYPE", "type": "string", "categorical": true }"#,
    );
    assert_ne!(schema, INTERACTIONS_SCHEMA);
    let err = fx.store.create_schema("bad", &schema, None).unwrap_err();
    assert!(matches!(err, Error::InvalidSchema(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("EVENT_TYPE") && message.contains("categorical"),
        "{message}"
    );
    assert!(
        fx.store.schema("bad").is_err(),
        "a rejected schema is not stored"
    );
}

#[test]
fn failed_job_leaves_the_dataset_unchanged() {
    let fx = Fixture::new();
    let ds = fx.interactions();
    let good = fx.file("good.csv", &interactions_csv(1200));
    import(&ds, "good", &good, ImportMode::Full).unwrap();
    let segments = ds.segments().unwrap();
    let before = rows(&ds);

    // Two bad rows: both are reported, neither FULL nor INCREMENTAL changes anything.
    let mut content = with_bad_row("u1,i1,click,1.0,x");
    content.push_str("u2,i2,click,oops,1600000000\n");
    let bad = fx.file("bad.csv", &content);
    for (job, mode) in [
        ("bad-full", ImportMode::Full),
        ("bad-incremental", ImportMode::Incremental),
    ] {
        let err = import(&ds, job, &bad, mode).unwrap_err();
        let Error::Import(failure) = &err else {
            panic!("expected an import failure, got {err:?}");
        };
        assert_eq!(failure.bad_rows, 2);
        assert_eq!(failure.row_errors.len(), 2);
        assert_eq!(failure.row_errors[1].line, 1002);
        assert_eq!(failure.row_errors[1].column.as_deref(), Some("EVENT_VALUE"));
        let info = ds.import_job(job).unwrap();
        assert_eq!(info.status, "CREATE FAILED");
        assert_eq!(info.bad_rows, 2);
        let reason = info
            .failure_reason
            .expect("a failed job has a failureReason");
        assert!(
            reason.contains("line 502") && reason.contains("TIMESTAMP"),
            "{reason}"
        );
    }
    assert_eq!(ds.segments().unwrap(), segments);
    assert_eq!(ds.bulk_rows().unwrap(), 1200);
    assert_eq!(rows(&ds), before);
    // Nothing but the committed segment and the manifest is left in bulk/.
    let mut files: Vec<String> = fs::read_dir(ds.dir().join("bulk"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        vec!["MANIFEST.json".to_owned(), segments[0].file.clone()]
    );
}

#[test]
fn full_replaces_bulk_data() {
    let fx = Fixture::new();
    let ds = fx.interactions();
    import(
        &ds,
        "one",
        &fx.file("one.csv", &interactions_csv(1500)),
        ImportMode::Full,
    )
    .unwrap();
    assert_eq!(ds.bulk_rows().unwrap(), 1500);
    let job = import(
        &ds,
        "two",
        &fx.file("two.csv", &interactions_csv(1000)),
        ImportMode::Full,
    )
    .unwrap();
    assert_eq!(job.status, "ACTIVE");
    assert_eq!(job.rows_imported, 1000);
    assert_eq!(ds.bulk_rows().unwrap(), 1000);
    assert_eq!(ds.segments().unwrap().len(), 1);
    assert_eq!(rows(&ds).len(), 1000);
}

#[test]
fn incremental_appends() {
    let fx = Fixture::new();
    let ds = fx.interactions();
    import(
        &ds,
        "one",
        &fx.file("one.csv", &interactions_csv(1000)),
        ImportMode::Full,
    )
    .unwrap();
    let job = import(
        &ds,
        "two",
        &fx.file("two.csv", &interactions_csv(1100)),
        ImportMode::Incremental,
    )
    .unwrap();
    assert_eq!(job.rows_imported, 1100);
    assert_eq!(job.import_mode, ImportMode::Incremental);
    assert_eq!(ds.bulk_rows().unwrap(), 2100);
    let all = rows(&ds);
    assert_eq!(all.len(), 2100);
    // The older segment comes first.
    assert_eq!(all[1000][4].as_deref(), Some("1600000000"));
}

#[test]
fn incremental_as_first_import_fails() {
    let fx = Fixture::new();
    let ds = fx.interactions();
    let path = fx.file("one.csv", &interactions_csv(1000));
    let err = import(&ds, "first", &path, ImportMode::Incremental).unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
    assert!(err.to_string().contains("FULL"), "{err}");
    assert_eq!(ds.bulk_rows().unwrap(), 0);
    assert_eq!(ds.import_job("first").unwrap().status, "CREATE FAILED");
}

#[test]
fn interactions_job_of_999_rows_fails() {
    let fx = Fixture::new();
    let ds = fx.interactions();
    let path = fx.file("small.csv", &interactions_csv(999));
    let err = import(&ds, "small", &path, ImportMode::Full).unwrap_err();
    assert!(matches!(err, Error::Import(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("1000") && message.contains("999"),
        "{message}"
    );
    assert_eq!(ds.bulk_rows().unwrap(), 0);
    // 1,000 rows is enough.
    let path = fx.file("enough.csv", &interactions_csv(1000));
    assert_eq!(
        import(&ds, "enough", &path, ImportMode::Full)
            .unwrap()
            .rows_imported,
        1000
    );
}

#[test]
fn long_textual_value_is_truncated_not_rejected() {
    let fx = Fixture::new();
    let ds = fx.items();
    let long = "x".repeat(20_001);
    let path = fx.file(
        "items.csv",
        &format!(
            "ITEM_ID,DESCRIPTION,GENRES\ni1,{},a|b\ni2,short,\n",
            quote(&long)
        ),
    );
    import(&ds, "items", &path, ImportMode::Full).unwrap();
    let all = rows(&ds);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0][1].as_ref().map(|s| s.chars().count()), Some(20_000));
    assert_eq!(all[0][2].as_deref(), Some("a|b"));
    assert_eq!(all[1][2], None, "an empty cell is null");
}

#[test]
fn over_long_categorical_value_names_line_and_field() {
    let fx = Fixture::new();
    let ds = fx.items();
    let genres = "g".repeat(1001);
    let path = fx.file(
        "items.csv",
        &format!("ITEM_ID,DESCRIPTION,GENRES\ni1,,a\ni2,,{genres}\n"),
    );
    let err = import(&ds, "items", &path, ImportMode::Full).unwrap_err();
    let Error::Import(failure) = &err else {
        panic!("expected an import failure, got {err:?}");
    };
    assert_eq!(failure.row_errors[0].line, 3);
    assert_eq!(failure.row_errors[0].column.as_deref(), Some("GENRES"));
    assert!(failure.row_errors[0].message.contains("1000"), "{err}");
    assert_eq!(ds.bulk_rows().unwrap(), 0);
}

#[test]
fn crlf_line_ends_and_quoted_commas_are_read() {
    let fx = Fixture::new();
    let ds = fx.items();
    let path = fx.file(
        "items.csv",
        "ITEM_ID,DESCRIPTION,GENRES\r\ni1,\"Say \"\"hi\"\", then \\\"bye\\\"\",a | b\r\n i2 ,,\r\n",
    );
    import(&ds, "crlf", &path, ImportMode::Full).unwrap();
    let all = rows(&ds);
    assert_eq!(
        all,
        vec![
            vec![
                Some("i1".into()),
                Some(r#"Say "hi", then "bye""#.into()),
                Some("a|b".into())
            ],
            vec![Some("i2".into()), None, None],
        ]
    );
}

#[test]
fn folder_import_reads_first_level_csv_files_in_order() {
    let fx = Fixture::new();
    let ds = fx.items();
    let header = "ITEM_ID,DESCRIPTION,GENRES\n";
    fx.file("folder/b.csv", &format!("{header}i3,third,c\n"));
    fx.file(
        "folder/a.csv",
        &format!("{header}i1,first,a\ni2,second,b\n"),
    );
    fx.file("folder/notes.txt", "not data\n");
    fx.file("folder/sub/c.csv", &format!("{header}i9,nested,z\n"));
    let folder = fx.dir.path().join("input/folder");
    let job = import(&ds, "folder", &folder, ImportMode::Full).unwrap();
    assert_eq!(job.rows_imported, 3);
    let ids: Vec<String> = rows(&ds)
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    assert_eq!(ids, ["i1", "i2", "i3"]);
}

#[test]
fn movielens_through_the_sdk() {
    let Some(src) = movielens_or_skip("movielens_through_the_sdk") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let files = movielens_to_personalize(&src, &tmp.path().join("csv")).unwrap();
    let store = Store::open(tmp.path().join("data")).unwrap();
    store.create_dataset_group("movielens", None).unwrap();
    for (dataset_type, schema, csv) in [
        (
            DatasetType::Interactions,
            tests::ML_INTERACTIONS_SCHEMA,
            &files.interactions_csv,
        ),
        (DatasetType::Items, tests::ML_ITEMS_SCHEMA, &files.items_csv),
    ] {
        let name = format!("movielens-{dataset_type}");
        store.create_schema(&name, schema, None).unwrap();
        store
            .create_dataset("movielens", dataset_type, &name, &name)
            .unwrap();
        let ds = store.dataset("movielens", dataset_type).unwrap();
        import(&ds, "ml", csv, ImportMode::Full).unwrap();
    }

    let interactions = store
        .dataset("movielens", DatasetType::Interactions)
        .unwrap();
    assert_eq!(interactions.bulk_rows().unwrap(), tests::ML_INTERACTIONS);
    let (mut users, mut items) = (HashSet::new(), HashSet::new());
    let mut first = None;
    interactions
        .scan(|origin, _, values| {
            assert_eq!(origin, Origin::Bulk);
            users.insert(text(&values[0]).unwrap());
            items.insert(text(&values[1]).unwrap());
            first.get_or_insert_with(|| values.iter().map(text).collect::<Vec<_>>());
            Ok(())
        })
        .unwrap();
    assert_eq!(users.len() as u64, tests::ML_USERS);
    assert_eq!(items.len() as u64, tests::ML_RATED_ITEMS);
    let first = first.unwrap();
    assert_eq!(
        first,
        ["1", "1", "rating", "4", "964982703"].map(|s| Some(s.to_owned()))
    );

    let movies = store.dataset("movielens", DatasetType::Items).unwrap();
    assert_eq!(movies.bulk_rows().unwrap(), tests::ML_ITEMS);
    let all = rows(&movies);
    let find = |id: &str| {
        all.iter()
            .find(|r| r[0].as_deref() == Some(id))
            .unwrap()
            .clone()
    };
    assert_eq!(
        find("1")[2].as_deref(),
        Some("Adventure|Animation|Children|Comedy|Fantasy")
    );
    assert_eq!(
        find("11")[1].as_deref(),
        Some("American President, The (1995)")
    );
    assert_eq!(
        find("7789")[1].as_deref(),
        Some("11'09\"01 - September 11 (2002)")
    );
    assert_eq!(
        find("114335")[2],
        None,
        "(no genres listed) is stored as null"
    );
}
