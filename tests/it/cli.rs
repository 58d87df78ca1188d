//! The `attune` binary, run as a real process: quickstart, import, dataset describe, generate,
//! and how errors reach the user (one `error: ...` line on stderr, non-zero exit).

use std::ffi::OsString;
use std::fs;
use std::path::Path;

use serde_json::Value as Json;
use tests::{attune_ok, movielens_or_skip, movielens_to_personalize, run_attune};

const INTERACTIONS_SCHEMA: &str = r#"{
  "type": "record", "name": "Interactions",
  "namespace": "com.amazonaws.personalize.schema",
  "fields": [
    { "name": "USER_ID", "type": "string" },
    { "name": "ITEM_ID", "type": "string" },
    { "name": "EVENT_VALUE", "type": ["null", "float"] },
    { "name": "TIMESTAMP", "type": "long" }
  ],
  "version": "1.0"
}"#;

/// `dataset describe --json` of a group, parsed.
fn describe(data: &Path, group: &str) -> Json {
    let out = attune_ok([
        "dataset".as_ref(),
        "describe".as_ref(),
        "--data-dir".as_ref(),
        data.as_os_str(),
        "--dataset-group".as_ref(),
        group.as_ref(),
        "--json".as_ref(),
    ]);
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("describe --json printed bad JSON ({e}):\n{out}"))
}

/// The `datasets[]` entry of a dataset type in describe's JSON.
fn dataset<'a>(doc: &'a Json, dataset_type: &str) -> &'a Json {
    doc["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["datasetType"] == dataset_type)
        .unwrap_or_else(|| panic!("no {dataset_type} dataset in {doc:#}"))
}

/// The `insights.datasets[]` entry of a dataset type.
fn insights<'a>(doc: &'a Json, dataset_type: &str) -> &'a Json {
    doc["insights"]["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["datasetType"] == dataset_type)
        .unwrap_or_else(|| panic!("no {dataset_type} insights in {doc:#}"))
}

/// `rest` followed by `--data-dir <data>`.
fn args(data: &Path, rest: &[&str]) -> Vec<OsString> {
    let mut v: Vec<OsString> = rest.iter().map(OsString::from).collect();
    v.push("--data-dir".into());
    v.push(data.into());
    v
}

fn interactions_file(rows: &[String]) -> String {
    let mut s = String::from("USER_ID,ITEM_ID,EVENT_VALUE,TIMESTAMP\n");
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s
}

fn good_rows(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("u{},i{},{}.5,{}", i % 40, i % 90, i % 5, 1_600_000_000 + i))
        .collect()
}

#[test]
fn quickstart_then_describe_shows_the_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let sizes = [
        "--users",
        "60",
        "--items",
        "150",
        "--interactions",
        "3000",
        "--seed",
        "7",
    ];
    let mut a = vec!["quickstart"];
    a.extend(sizes);
    let a = args(&data, &a);
    let out = attune_ok(&a);
    assert!(out.contains("dataset group quickstart is ready"), "{out}");
    // Both solutions are deployed as campaigns pointing at the versions just trained.
    let store = attune::Store::open(&data).unwrap();
    for name in ["quickstart-ranking", "quickstart-similar"] {
        let campaign = store.campaign(name).unwrap();
        let latest = store.latest_solution_version(name).unwrap();
        assert_eq!(campaign.solution_version_arn, latest.solution_version_arn);
    }
    assert!(tmp
        .path()
        .join("quickstart-data/interactions.csv")
        .is_file());

    let check = |doc: &Json| {
        assert_eq!(dataset(doc, "Interactions")["bulkRows"], 3000);
        assert_eq!(dataset(doc, "Items")["bulkRows"], 150);
        assert_eq!(dataset(doc, "Users")["bulkRows"], 60);
        assert_eq!(insights(doc, "Interactions")["records"]["total"], 3000);
        assert_eq!(insights(doc, "Items")["uniqueIds"], 150);
        assert_eq!(insights(doc, "Users")["uniqueIds"], 60);
    };
    let doc = describe(&data, "quickstart");
    check(&doc);
    assert_eq!(
        dataset(&doc, "Interactions")["importJobs"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A rerun replaces the bulk data with FULL imports under new job names.
    attune_ok(&a);
    let doc = describe(&data, "quickstart");
    check(&doc);
    let jobs = dataset(&doc, "Interactions")["importJobs"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(jobs.len(), 2);
    assert_ne!(jobs[0]["jobName"], jobs[1]["jobName"]);
    assert!(jobs
        .iter()
        .all(|j| j["status"] == "ACTIVE" && j["importMode"] == "FULL"));

    // The text form names the datasets too.
    let text = attune_ok(args(
        &data,
        &["dataset", "describe", "--dataset-group", "quickstart"],
    ));
    assert!(
        text.contains("Interactions") && text.contains("3000"),
        "{text}"
    );
}

#[test]
fn bad_import_exits_non_zero_naming_line_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let schema = tmp.path().join("interactions.avsc");
    fs::write(&schema, INTERACTIONS_SCHEMA).unwrap();
    let mut rows = good_rows(1200);
    rows[10] = "u1,i1,abc,1600000000".into();
    rows[20] = "u1,i1,1.0,yesterday".into();
    let csv = tmp.path().join("bad.csv");
    fs::write(&csv, interactions_file(&rows)).unwrap();

    let out = run_attune([
        "import".as_ref(),
        "--data-dir".as_ref(),
        data.as_os_str(),
        "--dataset-group".as_ref(),
        "g".as_ref(),
        "--dataset-type".as_ref(),
        "Interactions".as_ref(),
        "--schema".as_ref(),
        schema.as_os_str(),
        "--file".as_ref(),
        csv.as_os_str(),
        "--job-name".as_ref(),
        "bad-job".as_ref(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let first = stderr.lines().next().unwrap();
    assert!(first.starts_with("error: import job bad-job"), "{stderr}");
    assert!(first.contains("line 12, column EVENT_VALUE"), "{stderr}");
    assert!(first.contains("\"abc\""), "{stderr}");
    // The first row errors are listed, then where the full report is.
    assert!(stderr.contains("line 22, column TIMESTAMP"), "{stderr}");
    assert!(stderr.contains("bad-job.errors.txt"), "{stderr}");

    // The job is recorded as failed, and the dataset holds nothing.
    let doc = describe(&data, "g");
    let ds = dataset(&doc, "Interactions");
    assert_eq!(ds["bulkRows"], 0);
    let job = &ds["importJobs"][0];
    assert_eq!(job["status"], "CREATE FAILED");
    assert!(job["failureReason"].as_str().unwrap().contains("line 12"));
}

#[test]
fn import_then_incremental_and_schema_conflicts() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let schema = tmp.path().join("interactions.avsc");
    fs::write(&schema, INTERACTIONS_SCHEMA).unwrap();
    let csv = tmp.path().join("good.csv");
    fs::write(&csv, interactions_file(&good_rows(1000))).unwrap();
    let (schema_s, csv_s) = (schema.to_str().unwrap(), csv.to_str().unwrap());
    let base = [
        "import",
        "--dataset-group",
        "g",
        "--dataset-type",
        "Interactions",
        "--schema",
        schema_s,
        "--file",
        csv_s,
    ];

    let out = attune_ok(args(&data, &base));
    assert!(out.contains("imported 1000 rows"), "{out}");
    let mut incremental = base.to_vec();
    incremental.extend(["--mode", "INCREMENTAL"]);
    let out = attune_ok(args(&data, &incremental));
    assert!(out.contains("now holds 2000 bulk rows"), "{out}");
    let doc = describe(&data, "g");
    assert_eq!(dataset(&doc, "Interactions")["bulkRows"], 2000);
    assert_eq!(doc["datasetGroup"]["name"], "g");

    // The same job name twice is refused.
    let mut named = base.to_vec();
    named.extend(["--job-name", "j1"]);
    attune_ok(args(&data, &named));
    let out = run_attune(args(&data, &named));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists: j1"));

    // A different schema for an existing dataset is an error naming the dataset.
    let other = tmp.path().join("other.avsc");
    let with_device = INTERACTIONS_SCHEMA.replace(
        r#"{ "name": "TIMESTAMP", "type": "long" }"#,
        r#"{ "name": "TIMESTAMP", "type": "long" }, { "name": "DEVICE", "type": ["null", "string"], "categorical": true }"#,
    );
    fs::write(&other, with_device).unwrap();
    let mut conflicting = base.to_vec();
    conflicting[6] = other.to_str().unwrap();
    let out = run_attune(args(&data, &conflicting));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(
            "error: the Interactions dataset of group g already exists with a different schema"
        ),
        "{stderr}"
    );

    // A schema whose record name is another type.
    let mut wrong_type = base.to_vec();
    wrong_type[4] = "Items";
    let out = run_attune(args(&data, &wrong_type));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is for the Interactions dataset type"),
        "{stderr}"
    );
}

#[test]
fn usage_and_lookup_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // Reading commands do not create a data directory.
    let out = run_attune(args(
        &data,
        &["dataset", "describe", "--dataset-group", "nope"],
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("error: the data directory"), "{stderr}");
    assert!(!data.exists());

    let schema = tmp.path().join("s.avsc");
    fs::write(&schema, INTERACTIONS_SCHEMA).unwrap();
    let out = run_attune(args(
        &data,
        &[
            "import",
            "--dataset-group",
            "g",
            "--dataset-type",
            "Clicks",
            "--schema",
            schema.to_str().unwrap(),
            "--file",
            "x.csv",
        ],
    ));
    assert_eq!(
        out.status.code(),
        Some(2),
        "clap reports usage errors with status 2"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a dataset type"));

    // A bad schema is rejected before anything is created.
    fs::write(
        &schema,
        INTERACTIONS_SCHEMA.replace(
            r#""name": "EVENT_VALUE", "type": ["null", "float"]"#,
            r#""name": "EVENT_TYPE", "type": "string", "categorical": true"#,
        ),
    )
    .unwrap();
    let out = run_attune(args(
        &data,
        &[
            "import",
            "--dataset-group",
            "g",
            "--dataset-type",
            "Interactions",
            "--schema",
            schema.to_str().unwrap(),
            "--file",
            "x.csv",
        ],
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("EVENT_TYPE") && stderr.contains("categorical"),
        "{stderr}"
    );
    let out = run_attune(args(
        &data,
        &["dataset", "describe", "--dataset-group", "g"],
    ));
    assert!(String::from_utf8_lossy(&out.stderr).contains("dataset group not found: g"));
}

#[test]
fn generate_writes_csv_files_and_schemas() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("gen");
    let out = attune_ok([
        "generate".as_ref(),
        "--users".as_ref(),
        "20".as_ref(),
        "--items".as_ref(),
        "30".as_ref(),
        "--interactions".as_ref(),
        "500".as_ref(),
        "--seed".as_ref(),
        "3".as_ref(),
        "--out".as_ref(),
        out_dir.as_os_str(),
    ]);
    assert!(
        out.contains("generated 500 interactions, 30 items and 20 users"),
        "{out}"
    );
    for name in [
        "interactions.csv",
        "items.csv",
        "users.csv",
        "interactions.avsc",
        "items.avsc",
        "users.avsc",
    ] {
        assert!(out_dir.join(name).is_file(), "{name} missing");
    }
    let lines = fs::read_to_string(out_dir.join("interactions.csv"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(lines, 501);
}

#[test]
fn movielens_through_the_cli() {
    let Some(src) = movielens_or_skip("movielens_through_the_cli") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let files = movielens_to_personalize(&src, &tmp.path().join("csv")).unwrap();
    let data = tmp.path().join("data");
    for (dataset_type, schema, csv) in [
        (
            "Interactions",
            &files.interactions_schema,
            &files.interactions_csv,
        ),
        ("Items", &files.items_schema, &files.items_csv),
    ] {
        let out = attune_ok(args(
            &data,
            &[
                "import",
                "--dataset-group",
                "movielens",
                "--dataset-type",
                dataset_type,
                "--schema",
                schema.to_str().unwrap(),
                "--file",
                csv.to_str().unwrap(),
            ],
        ));
        assert!(out.starts_with("imported "), "{out}");
    }
    let doc = describe(&data, "movielens");
    assert_eq!(
        dataset(&doc, "Interactions")["bulkRows"],
        tests::ML_INTERACTIONS
    );
    assert_eq!(dataset(&doc, "Items")["bulkRows"], tests::ML_ITEMS);
    let stats = &insights(&doc, "Interactions")["interactions"];
    assert_eq!(stats["interactions"], tests::ML_INTERACTIONS);
    assert_eq!(stats["uniqueUsers"], tests::ML_USERS);
    assert_eq!(stats["uniqueItems"], tests::ML_RATED_ITEMS);
    assert_eq!(stats["eventTypes"]["rating"], tests::ML_INTERACTIONS);
    assert_eq!(insights(&doc, "Items")["uniqueIds"], tests::ML_ITEMS);
}

#[test]
fn the_default_relative_data_dir_works_in_a_fresh_directory() {
    // `--data-dir attune-data` (the default) is a one-word relative path: its parent is the
    // empty path, which must mean the current directory.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("schema.avsc"), INTERACTIONS_SCHEMA).unwrap();
    fs::write(
        dir.path().join("data.csv"),
        interactions_file(&good_rows(1000)),
    )
    .unwrap();
    let out = tests::attune()
        .current_dir(dir.path())
        .args([
            "import",
            "--dataset-group",
            "g",
            "--dataset-type",
            "Interactions",
            "--schema",
            "schema.avsc",
            "--file",
            "data.csv",
        ])
        .env_remove("ATTUNE_DATA_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir
        .path()
        .join("attune-data")
        .join("attune-store.json")
        .is_file());
}

#[test]
fn version_is_the_workspace_version() {
    // `[workspace.package] version`, which every crate of the workspace inherits.
    let out = attune_ok(["--version"]);
    assert_eq!(out.trim(), format!("attune {}", env!("CARGO_PKG_VERSION")));
    assert_ne!(env!("CARGO_PKG_VERSION"), "0.0.0");
}
