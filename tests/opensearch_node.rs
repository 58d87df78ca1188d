//! A real OpenSearch node for the end-to-end tests, of either line the plugin is built for
//! ([`Line`]): the line's integ-test distribution from Maven Central, with Attune's plugin zip
//! for that line installed by `bin/opensearch-plugin install`, exactly as a user installs it,
//! started as its own process on loopback and killed when dropped.
//!
//! Both come from `mvn -B -f opensearch-plugin/pom.xml verify` (the README test command runs it
//! first): the zips under [`RELEASES_DIR`], the distributions unpacked under [`DIST_DIR`]. Each
//! node gets its own copy of the distribution in a temporary directory, its own ports, a 512 MB
//! heap, and the disk watermarks off (a nearly full disk would otherwise make indices read-only).
//! Each line runs on a JDK it supports, found by [`java_home`].
//!
//! OpenSearch refuses to run as root; where the tests run as root the node is started in a new
//! user namespace (`unshare -U`), where it runs as an unprivileged user.
//!
//! The tests talk to the node through the `opensearch` crate; [`Node::send`] is a blocking
//! wrapper of its raw `send` for the APIs the crate has no typed call for (search pipelines).

use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use opensearch::http::headers::HeaderMap;
use opensearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use opensearch::http::Method;
use opensearch::OpenSearch;
use serde_json::Value;

use crate::workspace_root;

/// Where the Maven build unpacks the integ-test distributions (`opensearch-<version>` folders).
pub const DIST_DIR: &str = "opensearch-plugin/target/opensearch-dist";
/// Where the Maven build puts the plugin zips (`attune-opensearch-plugin-os-<major.minor>.zip`).
pub const RELEASES_DIR: &str = "opensearch-plugin/target/releases";

const BUILD_HINT: &str = "build it first with `mvn -B -f opensearch-plugin/pom.xml verify` on \
     Java 21 or later (the README test command does)";

/// An OpenSearch line the plugin is built for (a module of `opensearch-plugin/pom.xml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// OpenSearch 2.19.x (runs on Java 11 to 23: the security manager is gone from Java 24).
    V2,
    /// OpenSearch 3.x, the newest the build covers (runs on Java 21 or later).
    V3,
}

impl Line {
    /// The major version.
    pub fn major(self) -> u32 {
        match self {
            Line::V2 => 2,
            Line::V3 => 3,
        }
    }

    /// Whether a JDK of this major version runs a node of the line.
    fn runs_on(self, java: u32) -> bool {
        match self {
            Line::V2 => (11..=23).contains(&java),
            Line::V3 => java >= 21,
        }
    }
}

/// How to start a node.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// The OpenSearch line.
    pub line: Line,
    /// Install Attune's plugin zip (the line's build).
    pub plugin: bool,
    /// Node settings, passed as `-Ekey=value`.
    pub settings: Vec<(String, String)>,
    /// Secure settings, added to a new keystore (`opensearch-keystore add --stdin`).
    pub keystore: Vec<(String, String)>,
}

impl NodeOptions {
    /// A node of `line` without the plugin.
    pub fn new(line: Line) -> NodeOptions {
        NodeOptions {
            line,
            plugin: false,
            settings: Vec::new(),
            keystore: Vec::new(),
        }
    }

    /// A node of `line` with Attune's plugin whose endpoint setting names `attune_url`.
    pub fn with_plugin(line: Line, attune_url: &str) -> NodeOptions {
        NodeOptions {
            plugin: true,
            settings: vec![(
                "personalized_search_ranking.service.endpoint".into(),
                attune_url.into(),
            )],
            ..NodeOptions::new(line)
        }
    }
}

/// A running node; killed (its whole process group) on drop.
#[derive(Debug)]
pub struct Node {
    child: Child,
    home: tempfile::TempDir,
    port: u16,
    java: PathBuf,
    client: OpenSearch,
    rt: tokio::runtime::Runtime,
}

/// The one entry of `dir` whose name starts with `prefix` and ends with `suffix` (the newest
/// version when there are several), with the build hint when there is none.
fn find_built(dir: &str, prefix: &str, suffix: &str) -> PathBuf {
    let dir = workspace_root().join(dir);
    let mut found: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!(
            "nothing named {prefix}*{suffix} under {}: {BUILD_HINT}",
            dir.display()
        )
    })
}

/// The unpacked distribution of `line` under [`DIST_DIR`] (`opensearch-<major>.*`).
pub fn distribution(line: Line) -> PathBuf {
    let home = find_built(DIST_DIR, &format!("opensearch-{}.", line.major()), "");
    assert!(
        home.join("bin/opensearch").is_file(),
        "{} is not an OpenSearch home: {BUILD_HINT}",
        home.display()
    );
    home
}

/// The plugin zip of `line` under [`RELEASES_DIR`].
pub fn plugin_zip(line: Line) -> PathBuf {
    find_built(
        RELEASES_DIR,
        &format!("attune-opensearch-plugin-os-{}.", line.major()),
        ".zip",
    )
}

/// The major version of the JDK at `home`, from its `release` file.
fn java_major(home: &Path) -> Option<u32> {
    let text = fs::read_to_string(home.join("release")).ok()?;
    let version = text
        .lines()
        .find_map(|l| l.strip_prefix("JAVA_VERSION="))?
        .trim_matches('"');
    let mut parts = version.split(['.', '_', '-', '+']);
    match parts.next()?.parse().ok()? {
        1 => parts.next()?.parse().ok(),
        n => Some(n),
    }
}

/// A JDK that runs a node of `line` (the integ-test distributions bundle none): the first of
/// `OPENSEARCH_JAVA_HOME`, `JAVA_HOME`, the `java` on the PATH and the JDKs under
/// `/usr/lib/jvm` whose version the line supports.
pub fn java_home(line: Line) -> PathBuf {
    let mut candidates: Vec<PathBuf> = ["OPENSEARCH_JAVA_HOME", "JAVA_HOME"]
        .iter()
        .filter_map(|var| std::env::var_os(var).filter(|v| !v.is_empty()))
        .map(PathBuf::from)
        .collect();
    if let Ok(out) = Command::new("sh")
        .args(["-c", "readlink -f \"$(command -v java)\""])
        .output()
    {
        let java = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if let Some(home) = java.parent().and_then(Path::parent) {
            candidates.push(home.to_path_buf());
        }
    }
    if let Ok(entries) = fs::read_dir("/usr/lib/jvm") {
        let mut jvms: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        jvms.sort();
        candidates.extend(jvms);
    }
    candidates
        .iter()
        .find(|home| {
            home.join("bin/java").is_file() && java_major(home).is_some_and(|v| line.runs_on(v))
        })
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "no JDK for OpenSearch {} among {candidates:?} (2.19 runs on Java 11-23, 3.x on \
                 21 or later); set OPENSEARCH_JAVA_HOME",
                line.major()
            )
        })
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            // fs::copy keeps the permission bits (bin/ stays executable).
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run_tool(home: &Path, java: &Path, tool: &str, args: &[&str], stdin: Option<&str>) {
    let mut cmd = Command::new(home.join("bin").join(tool));
    cmd.args(args)
        .current_dir(home)
        .env("OPENSEARCH_JAVA_HOME", java)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{tool}: {e}"));
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Node {
    /// Copies the distribution, installs the plugin and the keystore as asked, starts the node
    /// and waits until it answers with a green or yellow cluster.
    pub fn start(opts: NodeOptions) -> Node {
        let dist = distribution(opts.line);
        let java = java_home(opts.line);
        let home = tempfile::Builder::new()
            .prefix("attune-opensearch-")
            .tempdir()
            .unwrap();
        let root = home.path().to_path_buf();
        copy_tree(&dist, &root);
        if opts.plugin {
            let url = format!("file://{}", plugin_zip(opts.line).display());
            run_tool(
                &root,
                &java,
                "opensearch-plugin",
                &["install", "--batch", &url],
                None,
            );
        }
        if !opts.keystore.is_empty() {
            run_tool(&root, &java, "opensearch-keystore", &["create"], None);
            for (k, v) in &opts.keystore {
                run_tool(
                    &root,
                    &java,
                    "opensearch-keystore",
                    &["add", "--stdin", "--force", k],
                    Some(v),
                );
            }
        }
        let port = free_port();
        let mut args = vec![
            "-Ediscovery.type=single-node".to_string(),
            "-Enetwork.host=127.0.0.1".to_string(),
            format!("-Ehttp.port={port}"),
            format!("-Etransport.port={}", free_port()),
            "-Ecluster.routing.allocation.disk.threshold_enabled=false".to_string(),
            "-Enode.name=attune-it".to_string(),
        ];
        args.extend(opts.settings.iter().map(|(k, v)| format!("-E{k}={v}")));
        let log = fs::File::create(root.join("console.log")).unwrap();
        let mut cmd = if running_as_root() {
            let mut c = Command::new("unshare");
            c.arg("-U").arg(root.join("bin/opensearch"));
            c
        } else {
            Command::new(root.join("bin/opensearch"))
        };
        cmd.args(&args)
            .current_dir(&root)
            .env("OPENSEARCH_JAVA_HOME", &java)
            .env(
                "OPENSEARCH_JAVA_OPTS",
                std::env::var("ATTUNE_IT_OPENSEARCH_JAVA_OPTS")
                    .unwrap_or_else(|_| "-Xms512m -Xmx512m".into()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0);
        let child = cmd.spawn().expect("start bin/opensearch");
        let url: opensearch::http::Url = format!("http://127.0.0.1:{port}").parse().unwrap();
        let transport = TransportBuilder::new(SingleNodeConnectionPool::new(url))
            .disable_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut node = Node {
            child,
            home,
            port,
            java,
            client: OpenSearch::new(transport),
            rt,
        };
        node.wait_ready();
        node
    }

    fn wait_ready(&mut self) {
        crate::wait_until(Duration::from_secs(180), "OpenSearch to start", || {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "OpenSearch exited during start ({status}):\n{}",
                    self.log_tail()
                );
            }
            // Connection refused comes back at once while the node boots.
            matches!(
                self.try_send("GET", "/_cluster/health?wait_for_status=yellow&timeout=1s", None),
                Ok((200, ref body)) if body["status"] != "red"
            )
        });
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The node's home (the copied distribution).
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// The JDK the node runs on.
    pub fn java(&self) -> &Path {
        &self.java
    }

    /// A client for the node.
    pub fn client(&self) -> OpenSearch {
        self.client.clone()
    }

    /// Runs a future on the node's own runtime (for the `opensearch` crate's async calls).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// One request through the client's raw `send`: status and JSON body (`Value::Null` for
    /// an empty body). `path` may carry a query string. Panics when the node cannot be reached.
    pub fn send(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.try_send(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.log_tail()))
    }

    /// [`Node::send`], with the body as raw text (NDJSON for `_bulk`).
    pub fn send_text(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        self.request(method, path, Some(body.to_string()))
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.log_tail()))
    }

    fn try_send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        self.request(method, path, body.map(Value::to_string))
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
    ) -> Result<(u16, Value), String> {
        let method = match method {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "HEAD" => Method::Head,
            other => panic!("method {other}"),
        };
        let mut headers = HeaderMap::new();
        if path.contains("_bulk") {
            headers.insert(
                opensearch::http::headers::CONTENT_TYPE,
                "application/x-ndjson".parse().unwrap(),
            );
        }
        self.rt.block_on(async {
            let resp = self
                .client
                .send(method, path, headers, None::<&()>, body, None)
                .await
                .map_err(|e| e.to_string())?;
            let status = resp.status_code().as_u16();
            let text = resp.text().await.map_err(|e| e.to_string())?;
            let value = if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?
            };
            Ok((status, value))
        })
    }

    /// Indexes `docs` into `index` with one `_bulk` call (ids from `id_of`, refreshed before it
    /// returns) and asserts every item was created.
    pub fn bulk_index(&self, index: &str, docs: &[Value], id_of: impl Fn(&Value) -> String) {
        let mut body = String::new();
        for doc in docs {
            body.push_str(
                &serde_json::json!({"index": {"_index": index, "_id": id_of(doc)}}).to_string(),
            );
            body.push('\n');
            body.push_str(&doc.to_string());
            body.push('\n');
        }
        let (status, resp) = self.send_text("POST", "/_bulk?refresh=true", &body);
        assert_eq!(status, 200, "{resp}");
        assert_eq!(resp["errors"], false, "bulk errors: {resp}");
    }

    /// The node's console output so far.
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = fs::File::open(self.home.path().join("console.log")) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    /// The last 80 lines of the node's console output.
    pub fn log_tail(&self) -> String {
        let text = self.log();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(80)..].join("\n")
    }
}

/// Whether this process runs as root (OpenSearch then needs a user namespace).
fn running_as_root() -> bool {
    // `id -u` rather than libc, to keep this crate free of unsafe code.
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Drop for Node {
    /// SIGKILL to the node's process group: its data is a temporary copy, nothing to flush.
    fn drop(&mut self) {
        let pgid = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &pgid]).status();
        let _ = self.child.wait();
    }
}
