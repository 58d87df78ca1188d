//! The fixture of the server tests (`server_*.rs`): a store with synthetic data, trained
//! versions and an event tracker, built once per test run and copied for each test, which
//! starts its own `attune serve` on it and deploys campaigns through the control plane.
//!
//! The template (built with the SDK): dataset group `shop` with Interactions, Items and Users
//! datasets from `attune::generate` (300 users `u1..u300`, 500 items `i1..i500`, 15,000
//! interactions), the event tracker `web`, and solutions `rank` (Personalized-Ranking, iALS with
//! 16 factors: version 1, then version 2 trained after an incremental import of 5,000 more
//! interactions, so the two rank differently), `sims` (Similar-Items) and `pop`
//! (Popularity-Count), one version each.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;

use attune::client::{Client, ClientError, ErrorKind, Response};
use attune::generate::{generate, GenerateConfig};
use attune::import::{ImportRequest, NoProgress};
use attune::model::{Model, Recipe};
use attune::store::solutions::SolutionConfig;
use attune::train::{create_solution_version, TrainOptions};
use attune::{DatasetType, ImportMode, Store};
use serde_json::{json, Value};
use tests::{start_server_with, ServerHandle};

/// The dataset group of the fixture.
pub const GROUP: &str = "shop";

/// The built template, shared by every test of the run.
#[derive(Debug)]
pub struct Template {
    /// The store directory to copy.
    store_dir: PathBuf,
    /// The generated files of the initial import.
    gen_dir: PathBuf,
    /// The event tracker's trackingId.
    pub tracking_id: String,
    /// `rank` version 1 and version 2.
    pub rank_v1: String,
    /// See `rank_v1`.
    pub rank_v2: String,
    /// The Similar-Items version.
    pub sims_v1: String,
    /// The Popularity-Count version.
    pub pop_v1: String,
    /// The Items dataset's ARN.
    pub items_arn: String,
    /// The Users dataset's ARN.
    pub users_arn: String,
}

/// Removes templates left behind by earlier runs whose process is gone (Linux: `/proc`).
fn sweep_stale_templates(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("server-fixture-")
            .and_then(|r| r.split('-').next())
        else {
            continue;
        };
        if Path::new("/proc/self").exists() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn import(store: &Store, ty: DatasetType, job: &str, csv: &Path, mode: ImportMode) {
    store
        .dataset(GROUP, ty)
        .unwrap()
        .import(
            &ImportRequest {
                job_name: job.into(),
                data_location: csv.display().to_string(),
                mode,
            },
            &NoProgress,
        )
        .unwrap();
}

fn train(store: &Store, solution: &str) -> String {
    let options = TrainOptions {
        evaluate: false,
        ..TrainOptions::default()
    };
    create_solution_version(
        store,
        solution,
        &options,
        &NoProgress,
        &AtomicBool::new(false),
    )
    .unwrap()
    .solution_version_arn
}

fn build_template() -> Template {
    let started = std::time::Instant::now();
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    sweep_stale_templates(tmp);
    let root = tempfile::Builder::new()
        .prefix(&format!("server-fixture-{}-", std::process::id()))
        .tempdir_in(tmp)
        .unwrap()
        // Kept for the whole run (statics are not dropped); the next run sweeps it.
        .keep();
    let gen = generate(
        &GenerateConfig {
            users: 300,
            items: 500,
            interactions: 15_000,
            seed: 3,
        },
        &root.join("gen"),
        &NoProgress,
    )
    .unwrap();
    let store_dir = root.join("store");
    let store = Store::open(&store_dir).unwrap();
    store.create_dataset_group(GROUP, None).unwrap();
    let mut arns = Vec::new();
    for (ty, csv, schema) in [
        (
            DatasetType::Interactions,
            &gen.interactions_csv,
            &gen.interactions_schema,
        ),
        (DatasetType::Items, &gen.items_csv, &gen.items_schema),
        (DatasetType::Users, &gen.users_csv, &gen.users_schema),
    ] {
        let name = format!("shop-{ty}").to_lowercase();
        store
            .create_schema(&name, &std::fs::read_to_string(schema).unwrap(), None)
            .unwrap();
        let info = store.create_dataset(GROUP, ty, &name, &name).unwrap();
        arns.push(info.dataset_arn);
        import(&store, ty, "initial", csv, ImportMode::Full);
    }
    let tracker = store.create_event_tracker(GROUP, "web").unwrap();

    let mut rank_config = SolutionConfig::default();
    for (k, v) in [
        ("algorithm", "ials"),
        ("factors", "16"),
        ("iterations", "8"),
    ] {
        rank_config
            .algorithm_hyper_parameters
            .insert(k.into(), v.into());
    }
    store
        .create_solution(
            "rank",
            GROUP,
            Recipe::PersonalizedRanking,
            None,
            rank_config,
        )
        .unwrap();
    store
        .create_solution(
            "sims",
            GROUP,
            Recipe::SimilarItems,
            None,
            SolutionConfig::default(),
        )
        .unwrap();
    store
        .create_solution(
            "pop",
            GROUP,
            Recipe::PopularityCount,
            None,
            SolutionConfig::default(),
        )
        .unwrap();
    eprintln!(
        "server fixture: data imported after {:.1?}",
        started.elapsed()
    );
    let rank_v1 = train(&store, "rank");
    let sims_v1 = train(&store, "sims");
    let pop_v1 = train(&store, "pop");
    // More interactions with other tastes, then version 2.
    let more = generate(
        &GenerateConfig {
            users: 300,
            items: 500,
            interactions: 5_000,
            seed: 99,
        },
        &root.join("gen2"),
        &NoProgress,
    )
    .unwrap();
    import(
        &store,
        DatasetType::Interactions,
        "more",
        &more.interactions_csv,
        ImportMode::Incremental,
    );
    let rank_v2 = train(&store, "rank");
    eprintln!("server fixture built in {:.1?}", started.elapsed());
    Template {
        store_dir,
        gen_dir: gen.dir.clone(),
        tracking_id: tracker.tracking_id,
        rank_v1,
        rank_v2,
        sims_v1,
        pop_v1,
        items_arn: arns[1].clone(),
        users_arn: arns[2].clone(),
    }
}

impl Template {
    /// GENRES of every item, from the generated `items.csv`.
    pub fn item_genres(&self) -> HashMap<String, String> {
        let mut rdr = csv::Reader::from_path(self.gen_dir.join("items.csv")).unwrap();
        let headers = rdr.headers().unwrap().clone();
        let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
        let (id, genres) = (col("ITEM_ID"), col("GENRES"));
        rdr.records()
            .map(|r| {
                let r = r.unwrap();
                (r[id].to_owned(), r[genres].to_owned())
            })
            .collect()
    }
}

/// The template, built on first use.
pub fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(build_template)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// The ARNs of the deployed campaigns.
#[derive(Debug, Clone)]
pub struct Campaigns {
    /// `rank` on rank version 1, with metadata enabled.
    pub rank: String,
    /// `sims`, with metadata enabled.
    pub sims: String,
    /// `pop`, metadata not enabled.
    pub pop: String,
}

/// One test's server on its own copy of the template.
#[derive(Debug)]
pub struct Fixture {
    /// The server (dropped first: killed before the directory goes).
    pub server: ServerHandle,
    /// A client for it.
    pub client: Client,
    /// The template's names.
    pub t: &'static Template,
    /// The campaigns [`Fixture::start`] deployed.
    pub campaigns: Campaigns,
    dir: tempfile::TempDir,
}

impl Fixture {
    /// Copies the template, starts a server on it and deploys `rank`, `sims` and `pop`.
    pub fn start() -> Fixture {
        Fixture::start_with(&[])
    }

    /// [`Fixture::start`] with more `attune serve` arguments.
    pub fn start_with(args: &[&str]) -> Fixture {
        let t = template();
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&t.store_dir, dir.path());
        let server = start_server_with(dir.path(), args);
        let mut client = Client::new(&server.base_url()).unwrap();
        if let Some(k) = args.iter().position(|a| *a == "--api-key") {
            client = client.with_api_key(args[k + 1]);
        }
        let mut fx = Fixture {
            server,
            client,
            t,
            campaigns: Campaigns {
                rank: String::new(),
                sims: String::new(),
                pop: String::new(),
            },
            dir,
        };
        fx.campaigns = Campaigns {
            rank: fx.deploy("rank", &t.rank_v1, true),
            sims: fx.deploy("sims", &t.sims_v1, true),
            pop: fx.deploy("pop", &t.pop_v1, false),
        };
        fx
    }

    /// CreateCampaign through the control plane; returns its ARN once DescribeCampaign says
    /// ACTIVE.
    pub fn deploy(&self, name: &str, version: &str, metadata: bool) -> String {
        let out = self
            .client
            .control(
                "CreateCampaign",
                &json!({
                    "name": name,
                    "solutionVersionArn": version,
                    "campaignConfig": {"enableMetadataWithRecommendations": metadata},
                }),
            )
            .unwrap();
        let arn = out["campaignArn"].as_str().unwrap().to_owned();
        tests::wait_until(
            std::time::Duration::from_secs(60),
            "the campaign to become ACTIVE",
            || self.describe_campaign(&arn)["status"] == "ACTIVE",
        );
        arn
    }

    /// DescribeCampaign's `campaign`.
    pub fn describe_campaign(&self, arn: &str) -> Value {
        self.client
            .control("DescribeCampaign", &json!({ "campaignArn": arn }))
            .unwrap()["campaign"]
            .clone()
    }

    /// Restarts the server (SIGTERM) on the same data and reconnects the client.
    pub fn restart(&mut self) {
        self.server.restart();
        self.reconnect();
    }

    /// Kills the server (SIGKILL), starts it again and reconnects the client.
    pub fn crash_and_restart(&mut self) {
        self.server.crash_and_restart();
        self.reconnect();
    }

    fn reconnect(&mut self) {
        let mut client = Client::new(&self.server.base_url()).unwrap();
        if let Some(key) = self.api_key() {
            client = client.with_api_key(key);
        }
        self.client = client;
    }

    fn api_key(&self) -> Option<String> {
        self.server
            .args()
            .iter()
            .position(|a| a == "--api-key")
            .map(|k| self.server.args()[k + 1].clone())
    }

    /// The test's store (the server's data directory), for reading.
    pub fn store(&self) -> Store {
        Store::open(self.dir.path()).unwrap()
    }

    /// A solution version's model, loaded in this process.
    pub fn model(&self, version: &str) -> Model {
        self.store().load_model(version).unwrap()
    }

    /// A raw POST with a JSON content type.
    pub fn post(&self, path: &str, body: &[u8]) -> Response {
        self.client
            .request("POST", path, &[("Content-Type", "application/json")], body)
            .unwrap()
    }
}

/// Asserts an error response: status, AWS name in both the header and the body, a request id,
/// and a message containing `needle`.
#[track_caller]
pub fn assert_error(resp: &Response, status: u16, error_type: &str, needle: &str) {
    let body = resp.json().unwrap_or(Value::Null);
    assert_eq!(
        (
            resp.status,
            resp.header("x-amzn-ErrorType"),
            body["__type"].as_str()
        ),
        (status, Some(error_type), Some(error_type)),
        "unexpected error response: {} {}",
        resp.status,
        resp.text()
    );
    assert!(resp
        .header("x-amzn-RequestId")
        .is_some_and(|v| !v.is_empty()));
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(needle),
        "message {message:?} does not mention {needle:?}"
    );
}

/// Asserts a client error of a kind, with `needle` in its message.
#[track_caller]
pub fn assert_client_error<T: std::fmt::Debug>(
    result: Result<T, ClientError>,
    kind: ErrorKind,
    needle: &str,
) {
    let err = result.expect_err("the call should fail");
    assert_eq!(err.kind(), kind, "{err}");
    assert!(
        err.to_string().contains(needle),
        "{err} does not mention {needle:?}"
    );
}

/// Item ids `i{from}..i{from + n}` (ids the model knows).
pub fn items(from: usize, n: usize) -> Vec<String> {
    (from..from + n).map(|i| format!("i{i}")).collect()
}

/// The item ids of a ranking, in order.
pub fn order(list: &[attune::api::PredictedItem]) -> Vec<String> {
    list.iter().map(|p| p.item_id.clone()).collect()
}

/// The order `Model::rank` gives, as item ids.
pub fn local_order(
    model: &Model,
    user: &str,
    recent: &[(&str, f32)],
    input: &[String],
) -> Vec<String> {
    let ids: Vec<&str> = input.iter().map(String::as_str).collect();
    model
        .rank(user, recent, &ids)
        .into_iter()
        .map(|r| input[r.input_index].clone())
        .collect()
}
