// The hidden setup of the SDK's doctests, pulled in with
// `# mod setup { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/doctest/setup.rs")); }`.
// It is the "import and training" example of the crate docs (`sdk/src/lib.rs`), run on a small
// synthetic dataset so each doctest takes well under a second.

use std::sync::atomic::AtomicBool;

use attune::generate::{generate, GenerateConfig};
use attune::import::{ImportRequest, NoProgress};
use attune::model::Recipe;
use attune::store::solutions::SolutionConfig;
use attune::train::{create_solution_version, TrainOptions};
use attune::{DatasetType, ImportMode, Store};

/// The dataset group.
pub const GROUP: &str = "shop";
/// The Personalized-Ranking campaign.
pub const RANKING: &str = "shop-ranking";
/// The Similar-Items campaign.
pub const SIMILAR: &str = "shop-similar";

/// Generated CSV files (users `u1..u200`, items `i1..i300`) in a temporary directory.
pub fn files() -> (tempfile::TempDir, attune::generate::Generated) {
    let dir = tempfile::tempdir().unwrap();
    let config = GenerateConfig {
        users: 200,
        items: 300,
        interactions: 6_000,
        seed: 7,
    };
    let generated = generate(&config, &dir.path().join("csv"), &NoProgress).unwrap();
    (dir, generated)
}

/// A store with the dataset group `shop` (Interactions, Items and Users imported) and its
/// event tracker `web`, nothing trained.
pub fn imported_store() -> (tempfile::TempDir, Store) {
    let (dir, csv) = files();
    let store = Store::open(dir.path().join("data")).unwrap();
    store.create_dataset_group(GROUP, None).unwrap();
    for (ty, file, schema) in [
        (DatasetType::Interactions, &csv.interactions_csv, &csv.interactions_schema),
        (DatasetType::Items, &csv.items_csv, &csv.items_schema),
        (DatasetType::Users, &csv.users_csv, &csv.users_schema),
    ] {
        let name = format!("shop-{}", ty.as_str().to_lowercase());
        store
            .create_schema(&name, &std::fs::read_to_string(schema).unwrap(), None)
            .unwrap();
        let dataset = store.create_dataset(GROUP, ty, &name, &name).unwrap();
        let request = ImportRequest {
            job_name: "initial".into(),
            data_location: file.display().to_string(),
            mode: ImportMode::Full,
        };
        store
            .dataset_by_arn(&dataset.dataset_arn)
            .unwrap()
            .import(&request, &NoProgress)
            .unwrap();
    }
    store.create_event_tracker(GROUP, "web").unwrap();
    (dir, store)
}

/// [`imported_store`] with campaigns `shop-ranking` (iALS) and `shop-similar` deployed.
pub fn trained_store() -> (tempfile::TempDir, Store) {
    let (dir, store) = imported_store();
    let options = TrainOptions {
        evaluate: false,
        ..TrainOptions::default()
    };
    let mut ranking = SolutionConfig::default();
    ranking
        .algorithm_hyper_parameters
        .insert("factors".into(), "16".into());
    for (name, recipe, config) in [
        (RANKING, Recipe::PersonalizedRanking, ranking),
        (SIMILAR, Recipe::SimilarItems, SolutionConfig::default()),
    ] {
        store
            .create_solution(name, GROUP, recipe, None, config)
            .unwrap();
        let version =
            create_solution_version(&store, name, &options, &NoProgress, &AtomicBool::new(false))
                .unwrap();
        store
            .create_campaign(name, &version.solution_version_arn, None, Default::default())
            .unwrap();
    }
    (dir, store)
}

/// A real `attune serve` (the server crate, in process) on `store` with an API key, on a
/// loopback port; it stops when the returned guard is dropped.
pub fn serve(store: &Store, api_key: &str) -> (String, Server) {
    let mut config = attune_server::Config::for_data_dir(store.root());
    config.api_key = Some(api_key.to_owned());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    runtime.spawn(attune_server::run(listener, config, async move {
        let _ = stopped.await;
    }));
    // The listener is bound, so the first health call waits until the server accepts it (after
    // loading the campaigns); a server that failed to start is an error here, not a hang.
    let client = attune::client::Client::new(&url).unwrap().with_api_key(api_key);
    client.health().expect("the in-process server answers /health");
    (url, Server { _stop: stop, _runtime: runtime })
}

/// Stops the server of [`serve`] when dropped.
pub struct Server {
    _stop: tokio::sync::oneshot::Sender<()>,
    _runtime: tokio::runtime::Runtime,
}
