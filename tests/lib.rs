//! Helpers shared by the integration tests in `it/`: where the workspace, the shared MovieLens
//! data and the `attune` binary are, and MovieLens converted into Personalize's CSV format.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Rows of `ml-latest-small/ratings.csv`.
pub const ML_INTERACTIONS: u64 = 100_836;
/// Rows of `ml-latest-small/movies.csv`.
pub const ML_ITEMS: u64 = 9_742;
/// Distinct users in the ratings.
pub const ML_USERS: u64 = 610;
/// Distinct movies with at least one rating.
pub const ML_RATED_ITEMS: u64 = 9_724;

/// The Interactions schema of the converted MovieLens ratings.
pub const ML_INTERACTIONS_SCHEMA: &str = r#"{
  "type": "record",
  "name": "Interactions",
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

/// The Items schema of the converted MovieLens movies: a textual title, categorical genres.
pub const ML_ITEMS_SCHEMA: &str = r#"{
  "type": "record",
  "name": "Items",
  "namespace": "com.amazonaws.personalize.schema",
  "fields": [
    { "name": "ITEM_ID", "type": "string" },
    { "name": "TITLE", "type": ["null", "string"], "textual": true },
    { "name": "GENRES", "type": ["null", "string"], "categorical": true }
  ],
  "version": "1.0"
}"#;

/// The workspace root (the folder holding the virtual manifest).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives inside the workspace")
        .to_owned()
}

/// `../shared/data/ml-latest-small` relative to the workspace root.
pub fn movielens_path() -> PathBuf {
    workspace_root().join("../shared/data/ml-latest-small")
}

/// The MovieLens folder, or `None` (after printing why the test is skipped) when it is absent.
pub fn movielens_or_skip(test: &str) -> Option<PathBuf> {
    let dir = movielens_path();
    if dir.join("ratings.csv").is_file() && dir.join("movies.csv").is_file() {
        Some(dir)
    } else {
        println!(
            "skipping {test}: the MovieLens data is not at {} (ratings.csv, movies.csv)",
            dir.display()
        );
        None
    }
}

/// The `attune` binary, built once per test run with `cargo build -p attune-server --bin attune`.
pub fn attune_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .current_dir(workspace_root())
            .args([
                "build",
                "-p",
                "attune-server",
                "--bin",
                "attune",
                "--message-format=json-render-diagnostics",
            ])
            .output()
            .expect("cannot run cargo");
        assert!(
            out.status.success(),
            "cargo build of the attune binary failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        stdout
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|msg| msg["reason"] == "compiler-artifact" && msg["target"]["name"] == "attune")
            .find_map(|msg| msg["executable"].as_str().map(PathBuf::from))
            .expect("cargo build reported no attune executable")
    })
}

/// A command running the `attune` binary, with `ATTUNE_DATA_DIR` and `RUST_LOG` cleared so only
/// the arguments count.
pub fn attune() -> Command {
    let mut cmd = Command::new(attune_bin());
    cmd.env_remove("ATTUNE_DATA_DIR").env_remove("RUST_LOG");
    cmd
}

/// Runs `attune` with `args` and returns its output.
pub fn run_attune<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    attune()
        .args(args)
        .output()
        .expect("cannot run the attune binary")
}

/// Runs `attune` and panics with its stderr unless it exits 0; returns stdout.
pub fn attune_ok<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = run_attune(args);
    assert!(
        out.status.success(),
        "attune failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("attune prints UTF-8")
}

/// MovieLens converted into Personalize's format.
#[derive(Debug, Clone)]
pub struct MovieLensFiles {
    /// `interactions.csv`: USER_ID, ITEM_ID, EVENT_TYPE (`rating`), EVENT_VALUE, TIMESTAMP.
    pub interactions_csv: PathBuf,
    /// `items.csv`: ITEM_ID, TITLE (quoted), GENRES (`|`-separated, empty when none listed).
    pub items_csv: PathBuf,
    /// `interactions.avsc`: [`ML_INTERACTIONS_SCHEMA`].
    pub interactions_schema: PathBuf,
    /// `items.avsc`: [`ML_ITEMS_SCHEMA`].
    pub items_schema: PathBuf,
}

/// Converts `ratings.csv` and `movies.csv` of the MovieLens folder `src` into Personalize CSV
/// files and schemas in `out`.
pub fn movielens_to_personalize(src: &Path, out: &Path) -> io::Result<MovieLensFiles> {
    std::fs::create_dir_all(out)?;
    let files = MovieLensFiles {
        interactions_csv: out.join("interactions.csv"),
        items_csv: out.join("items.csv"),
        interactions_schema: out.join("interactions.avsc"),
        items_schema: out.join("items.avsc"),
    };
    std::fs::write(&files.interactions_schema, ML_INTERACTIONS_SCHEMA)?;
    std::fs::write(&files.items_schema, ML_ITEMS_SCHEMA)?;

    let mut w = BufWriter::new(File::create(&files.interactions_csv)?);
    writeln!(w, "USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP")?;
    for row in csv_rows(
        &src.join("ratings.csv"),
        &["userId", "movieId", "rating", "timestamp"],
    )? {
        writeln!(w, "{},{},rating,{},{}", row[0], row[1], row[2], row[3])?;
    }
    w.flush()?;

    let mut w = BufWriter::new(File::create(&files.items_csv)?);
    writeln!(w, "ITEM_ID,TITLE,GENRES")?;
    for row in csv_rows(&src.join("movies.csv"), &["movieId", "title", "genres"])? {
        let genres = if row[2] == "(no genres listed)" {
            ""
        } else {
            &row[2]
        };
        writeln!(w, "{},{},{}", row[0], quote(&row[1]), genres)?;
    }
    w.flush()?;
    Ok(files)
}

/// A quoted CSV cell in Personalize's dialect: `"` doubled, `\` escaped.
pub fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\"\""))
}

/// The rows of a CSV file with the given header, as strings (CRLF line ends accepted).
fn csv_rows(path: &Path, header: &[&str]) -> io::Result<Vec<Vec<String>>> {
    let mut rdr = csv::Reader::from_path(path)?;
    let found: Vec<&str> = rdr.headers()?.iter().collect();
    if found != header {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: header {found:?}, expected {header:?}", path.display()),
        ));
    }
    rdr.records()
        .map(|r| {
            r.map(|r| r.iter().map(str::to_owned).collect())
                .map_err(io::Error::from)
        })
        .collect()
}
