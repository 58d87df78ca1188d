//! Helpers shared by the integration tests in `it/`: where the workspace, the shared MovieLens
//! data and the `attune` binary are, and MovieLens converted into Personalize's CSV format.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub mod opensearch_node;

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

/// Polls `cond` until it holds, panicking with `what` after `timeout`. The pause between polls
/// grows from 1 ms to 50 ms: this waits on a condition, it does not guess a duration.
pub fn wait_until(timeout: std::time::Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(1);
    while !cond() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(pause);
        pause = (pause * 2).min(std::time::Duration::from_millis(50));
    }
}

/// A running `attune serve` process on a loopback port. Killed (SIGKILL) on drop.
#[derive(Debug)]
pub struct ServerHandle {
    child: std::process::Child,
    addr: std::net::SocketAddr,
    data_dir: PathBuf,
    args: Vec<String>,
    output: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// How long a server may take to bind (it loads its campaigns' models first).
const SERVER_START_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Starts `attune serve --data-dir <data_dir> --listen 127.0.0.1:0` and waits for its
/// `listening on <addr>` line.
pub fn start_server(data_dir: &Path) -> ServerHandle {
    start_server_with(data_dir, &[])
}

/// [`start_server`] with more arguments (e.g. `--api-key`).
pub fn start_server_with(data_dir: &Path, args: &[&str]) -> ServerHandle {
    use std::io::BufRead;
    use std::process::Stdio;
    use std::sync::mpsc;

    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let mut child = attune()
        .arg("serve")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--listen", "127.0.0.1:0"])
        .args(&args)
        .env_remove("ATTUNE_API_KEY")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start attune serve");
    let output = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel::<String>();
    // Both pipes are drained for the server's whole life (a full pipe would block it); lines
    // are kept for the test and echoed to the test's captured output.
    let pipes: [Box<dyn std::io::Read + Send>; 2] = [
        Box::new(child.stdout.take().expect("stdout is piped")),
        Box::new(child.stderr.take().expect("stderr is piped")),
    ];
    for pipe in pipes {
        let (tx, output) = (tx.clone(), output.clone());
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                eprintln!("[server] {line}");
                output
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(line.clone());
                let _ = tx.send(line);
            }
        });
    }
    drop(tx);
    let deadline = std::time::Instant::now() + SERVER_START_TIMEOUT;
    let addr = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let addr = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .trim_start_matches("http://");
                    break addr
                        .parse::<std::net::SocketAddr>()
                        .unwrap_or_else(|_| panic!("cannot parse the address in {line:?}"));
                }
            }
            Err(e) => {
                let _ = child.kill();
                let status = child.wait().ok();
                panic!("attune serve did not print `listening on` ({e:?}; exit status {status:?})");
            }
        }
    };
    ServerHandle {
        child,
        addr,
        data_dir: data_dir.to_owned(),
        args,
        output,
    }
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// `http://<addr>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The extra arguments the server was started with.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every line the server printed so far (stdout and stderr).
    pub fn output(&self) -> Vec<String> {
        self.output
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// SIGKILL, then waits for the process to go.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM (graceful shutdown), then waits for the exit; returns the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        // `kill` the command: the workspace denies unsafe code, so no libc::kill.
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if !sent {
            let _ = self.child.kill();
        }
        self.child.wait().expect("wait for attune serve")
    }

    /// Stops the server (SIGTERM, which must exit 0) and starts it again on the same data
    /// directory with the same arguments (on a new port).
    pub fn restart(&mut self) {
        let status = self.terminate();
        assert!(
            status.success(),
            "attune serve exited with {status} on SIGTERM"
        );
        self.start_again();
    }

    /// Kills the server (SIGKILL) and starts it again like [`ServerHandle::restart`].
    pub fn crash_and_restart(&mut self) {
        self.kill();
        self.start_again();
    }

    fn start_again(&mut self) {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let next = start_server_with(&self.data_dir, &args);
        // The old handle's process is gone; dropping it only reaps nothing.
        *self = next;
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.kill();
    }
}
