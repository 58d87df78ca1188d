//! Training through the real SDK and the real `attune` binary: the minimum-data rules, every
//! recipe on generated data, Personalize's ranking semantics on loaded models, fold-in of
//! real-time events, Similar-Items for cold and unknown items, interruption, hyperparameter
//! errors, the CLI (quickstart, train, recommend, evaluate), MovieLens, and the frozen model
//! artifacts of `tests/fixtures/models/v1`.
//!
//! Debug builds train slowly, so the tests pass small iALS settings ([`FAST_IALS`]) and small
//! generated datasets; the recipes' defaults are exercised by quickstart.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use attune::events::{Event, Item, PutEventsRequest, PutItemsRequest, Recorder};
use attune::generate::GenerateConfig;
use attune::import::{ImportRequest, NoProgress, Progress};
use attune::model::{Model, Ranked, Recipe};
use attune::store::solutions::{SolutionConfig, SolutionVersionInfo};
use attune::train::{self, TrainOptions};
use attune::{DatasetType, Error, ImportMode, Store};
use serde_json::{json, Value as Json};
use tempfile::TempDir;
use tests::{attune_ok, movielens_or_skip, movielens_to_personalize, run_attune, workspace_root};

/// The dataset group every SDK test trains on.
const GROUP: &str = "g";

/// iALS settings that train in a fraction of a second in debug builds.
const FAST_IALS: &[(&str, &str)] = &[
    ("algorithm", "ials"),
    ("factors", "16"),
    ("iterations", "8"),
];

/// Personalize's metric keys (GetSolutionMetrics), exactly.
const METRIC_KEYS: [&str; 8] = [
    "coverage",
    "mean_reciprocal_rank_at_25",
    "normalized_discounted_cumulative_gain_at_10",
    "normalized_discounted_cumulative_gain_at_25",
    "normalized_discounted_cumulative_gain_at_5",
    "precision_at_10",
    "precision_at_25",
    "precision_at_5",
];

const NDCG_10: &str = "normalized_discounted_cumulative_gain_at_10";

/// Interactions with an event type, for data built by hand.
const INTERACTIONS_SCHEMA: &str = r#"{
  "type": "record", "name": "Interactions",
  "namespace": "com.amazonaws.personalize.schema",
  "fields": [
    { "name": "USER_ID", "type": "string" },
    { "name": "ITEM_ID", "type": "string" },
    { "name": "EVENT_TYPE", "type": "string" },
    { "name": "TIMESTAMP", "type": "long" }
  ],
  "version": "1.0"
}"#;

/// Items with categorical genres, for data built by hand.
const ITEMS_SCHEMA: &str = r#"{
  "type": "record", "name": "Items",
  "namespace": "com.amazonaws.personalize.schema",
  "fields": [
    { "name": "ITEM_ID", "type": "string" },
    { "name": "GENRES", "type": ["null", "string"], "categorical": true }
  ],
  "version": "1.0"
}"#;

// ---------------------------------------------------------------------------------------------
// Helpers

/// A store in a temporary directory with the dataset group [`GROUP`].
fn empty_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("data")).unwrap();
    store.create_dataset_group(GROUP, None).unwrap();
    (dir, store)
}

/// Creates a dataset of the group with its own schema.
fn create_dataset(store: &Store, dataset_type: DatasetType, schema: &str) {
    let name = format!("{GROUP}-{dataset_type}");
    store.create_schema(&name, schema, None).unwrap();
    store
        .create_dataset(GROUP, dataset_type, &name, &name)
        .unwrap();
}

/// Imports a CSV file into a dataset of the group (FULL).
fn import(store: &Store, dataset_type: DatasetType, csv: &Path) {
    let dataset = store.dataset(GROUP, dataset_type).unwrap();
    let job = format!("import-{}", dataset.import_jobs().unwrap().len());
    dataset
        .import(
            &ImportRequest {
                job_name: job,
                data_location: csv.display().to_string(),
                mode: ImportMode::Full,
            },
            &NoProgress,
        )
        .unwrap();
}

/// Generated data imported into [`GROUP`] (Interactions and Items), with each item's genres.
struct Generated {
    _dir: TempDir,
    store: Store,
    genres: HashMap<String, BTreeSet<String>>,
}

impl Generated {
    fn new(users: u32, items: u32, interactions: u64, seed: u64) -> Generated {
        let (dir, store) = empty_store();
        let config = GenerateConfig {
            users,
            items,
            interactions,
            seed,
        };
        let files = attune::generate::generate(&config, &dir.path().join("generated"), &NoProgress)
            .unwrap();
        for (dataset_type, csv, schema) in [
            (
                DatasetType::Interactions,
                &files.interactions_csv,
                &files.interactions_schema,
            ),
            (DatasetType::Items, &files.items_csv, &files.items_schema),
        ] {
            create_dataset(&store, dataset_type, &fs::read_to_string(schema).unwrap());
            import(&store, dataset_type, csv);
        }
        let mut genres = HashMap::new();
        let mut rdr = csv::Reader::from_path(&files.items_csv).unwrap();
        let header = rdr.headers().unwrap().clone();
        let (id, g) = (
            header.iter().position(|h| h == "ITEM_ID").unwrap(),
            header.iter().position(|h| h == "GENRES").unwrap(),
        );
        for row in rdr.records() {
            let row = row.unwrap();
            genres.insert(
                row[id].to_owned(),
                row[g].split('|').map(str::to_owned).collect(),
            );
        }
        Generated {
            _dir: dir,
            store,
            genres,
        }
    }

    /// The small dataset most tests train on: 300 users, 500 items, 15,000 interactions.
    fn small() -> Generated {
        Generated::new(300, 500, 15_000, 5)
    }

    fn shares_genre(&self, item: &str, genres: &BTreeSet<String>) -> bool {
        self.genres[item].intersection(genres).next().is_some()
    }
}

fn config(hyperparameters: &[(&str, &str)]) -> SolutionConfig {
    SolutionConfig {
        algorithm_hyper_parameters: hyperparameters
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..SolutionConfig::default()
    }
}

/// Creates a solution on [`GROUP`].
fn solution(store: &Store, name: &str, recipe: Recipe, hyperparameters: &[(&str, &str)]) {
    train::create_solution(store, name, GROUP, recipe, None, config(hyperparameters)).unwrap();
}

/// Trains a version (no progress, never cancelled).
fn train(store: &Store, solution: &str, evaluate: bool) -> attune::Result<SolutionVersionInfo> {
    let options = TrainOptions {
        evaluate,
        ..TrainOptions::default()
    };
    train::create_solution_version(
        store,
        solution,
        &options,
        &NoProgress,
        &AtomicBool::new(false),
    )
}

/// Trains a version that must succeed and loads its model.
fn trained_model(store: &Store, solution: &str) -> (SolutionVersionInfo, Model) {
    let version = train(store, solution, false).unwrap();
    let model = store.load_model(&version.solution_version_arn).unwrap();
    (version, model)
}

/// Where a version's artifact would be (the store layout of `store/solutions.rs`).
fn model_path(store: &Store, version: &SolutionVersionInfo) -> PathBuf {
    let rest = version
        .solution_version_arn
        .rsplit_once(":solution/")
        .unwrap()
        .1;
    let (solution, id) = rest.split_once('/').unwrap();
    store
        .root()
        .join("solutions")
        .join(solution)
        .join("versions")
        .join(id)
        .join("model.bin")
}

/// The only version of a solution, which must have ended with `status` and no model.
fn assert_single_version_without_model(
    store: &Store,
    solution: &str,
    status: &str,
) -> SolutionVersionInfo {
    let versions = store.list_solution_versions(solution).unwrap();
    assert_eq!(versions.len(), 1, "{versions:#?}");
    let v = versions.into_iter().next().unwrap();
    assert_eq!(v.status, status, "{v:#?}");
    assert!(!model_path(store, &v).exists(), "{v:#?} left a model.bin");
    assert!(
        matches!(
            store.load_model(&v.solution_version_arn),
            Err(Error::ResourceInUse(_))
        ),
        "a {status} version must not load"
    );
    assert!(store.solution_metrics(&v.solution_version_arn).is_err());
    v
}

fn ids(ranked: &[Ranked], input: &[&str]) -> Vec<String> {
    ranked
        .iter()
        .map(|r| input[r.input_index].to_owned())
        .collect()
}

fn item_ids(model: &Model, items: &[u32]) -> Vec<String> {
    items.iter().map(|&i| model.item_id(i).to_owned()).collect()
}

/// The trained history of a user, as item ids.
fn history_ids(model: &Model, user: &str) -> Vec<String> {
    let u = model.users.index(user).unwrap();
    model
        .trained_history(u)
        .map(|(i, _)| model.item_id(i).to_owned())
        .collect()
}

/// `rest` followed by `--data-dir <data>`.
fn args(data: &Path, rest: &[&str]) -> Vec<OsString> {
    let mut v: Vec<OsString> = rest.iter().map(OsString::from).collect();
    v.push("--data-dir".into());
    v.push(data.into());
    v
}

fn json_of(out: &str) -> Json {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
}

fn assert_metric_keys(metrics: &BTreeMap<String, f64>) {
    let keys: Vec<&str> = metrics.keys().map(String::as_str).collect();
    assert_eq!(keys, METRIC_KEYS, "{metrics:#?}");
    for (k, v) in metrics {
        assert!((0.0..=1.0).contains(v), "{k} = {v}");
    }
}

// ---------------------------------------------------------------------------------------------
// Minimum data

fn click(item: String, at: f64, event_type: &str) -> Event {
    Event {
        event_type: event_type.into(),
        sent_at: at,
        item_id: Some(item),
        ..Event::default()
    }
}

/// Records events `from..to` through PutEvents: user `u{k / 10 % 50}`, every tenth a `buy`.
fn record(recorder: &Recorder, tracking_id: &str, from: usize, to: usize) {
    for start in (from..to).step_by(10) {
        let user = format!("u{}", start / 10 % 50);
        let event_list = (start..(start + 10).min(to))
            .map(|k| {
                let kind = if k % 10 == 0 { "buy" } else { "click" };
                click(
                    format!("i{}", (k * 7) % 100),
                    1_600_000_000.0 + k as f64,
                    kind,
                )
            })
            .collect();
        recorder
            .put_events(&PutEventsRequest {
                tracking_id: tracking_id.into(),
                session_id: format!("s-{user}"),
                user_id: Some(user),
                event_list,
            })
            .unwrap();
    }
}

#[test]
fn fewer_than_1000_interactions_fail_the_version_without_a_model() {
    let (_dir, store) = empty_store();
    create_dataset(&store, DatasetType::Interactions, INTERACTIONS_SCHEMA);
    let tracker = store.create_event_tracker(GROUP, "web").unwrap();
    let recorder = Recorder::new(store.clone());
    record(&recorder, &tracker.tracking_id, 0, 990);
    solution(&store, "all", Recipe::PersonalizedRanking, FAST_IALS);

    let err = train(&store, "all", true).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
    assert!(
        msg.contains("fewer than 1000 interactions") && msg.contains("it has 990"),
        "{msg}"
    );
    assert!(msg.contains("at least 10 more"), "{msg}");
    let failed = assert_single_version_without_model(&store, "all", "CREATE FAILED");
    assert_eq!(failed.failure_reason.as_deref(), Some(msg.as_str()));

    // Ten more recorded events reach the minimum: exactly 1000 trains.
    record(&recorder, &tracker.tracking_id, 990, 1000);
    let v = train(&store, "all", true).unwrap();
    assert_eq!(v.status, "ACTIVE");
    assert!(model_path(&store, &v).is_file());
    assert_eq!(
        store
            .latest_solution_version("all")
            .unwrap()
            .solution_version_arn,
        v.solution_version_arn
    );

    // The minimum applies after the solution's event-type filter: only 100 are buys.
    store
        .create_solution(
            "buys",
            GROUP,
            Recipe::PersonalizedRanking,
            Some("buy".into()),
            config(FAST_IALS),
        )
        .unwrap();
    let msg = train(&store, "buys", true).unwrap_err().to_string();
    assert!(
        msg.contains("fewer than 1000 interactions after filtering by event type buy")
            && msg.contains("it has 100"),
        "{msg}"
    );
    assert_single_version_without_model(&store, "buys", "CREATE FAILED");
}

#[test]
fn fewer_than_25_users_with_two_interactions_fail_the_version_without_a_model() {
    let (dir, store) = empty_store();
    create_dataset(&store, DatasetType::Interactions, INTERACTIONS_SCHEMA);
    // 20 users with 10 interactions each, and 800 users with one: 1000 rows.
    let mut csv = String::from("USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP\n");
    for k in 0..200 {
        csv.push_str(&format!(
            "heavy{},i{},click,{}\n",
            k % 20,
            k % 37,
            1_600_000_000 + k
        ));
    }
    for k in 0..800 {
        csv.push_str(&format!(
            "once{k},i{},click,{}\n",
            k % 37,
            1_600_001_000 + k
        ));
    }
    let path = dir.path().join("interactions.csv");
    fs::write(&path, csv).unwrap();
    import(&store, DatasetType::Interactions, &path);
    solution(&store, "few-users", Recipe::SimilarItems, &[]);

    let err = train(&store, "few-users", true).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
    assert!(
        msg.starts_with(
            "Create failed. Dataset has fewer than 25 users with at least 2 interactions each"
        ) && msg.contains("(20)"),
        "{msg}"
    );
    let failed = assert_single_version_without_model(&store, "few-users", "CREATE FAILED");
    assert_eq!(failed.failure_reason.as_deref(), Some(msg.as_str()));
}

// ---------------------------------------------------------------------------------------------
// Recipes on generated data

#[test]
fn every_recipe_trains_on_generated_data_and_ranking_beats_popularity() {
    let g = Generated::small();
    let store = &g.store;
    // `auto` validates iALS against the sequence model on the training users.
    solution(
        store,
        "ranking",
        Recipe::PersonalizedRanking,
        &[("factors", "16"), ("iterations", "8")],
    );
    solution(store, "similar", Recipe::SimilarItems, &[]);
    solution(store, "popular", Recipe::PopularityCount, &[]);

    let mut ndcg = BTreeMap::new();
    for (name, recipe, algorithms) in [
        (
            "ranking",
            Recipe::PersonalizedRanking,
            &["ials", "sequence"][..],
        ),
        ("similar", Recipe::SimilarItems, &["sims"][..]),
        ("popular", Recipe::PopularityCount, &["popularity"][..]),
    ] {
        let v = train(store, name, true).unwrap();
        assert_eq!(v.status, "ACTIVE");
        assert_eq!(v.recipe_arn, recipe.arn());
        assert!(model_path(store, &v).is_file());
        let metrics = store.solution_metrics(&v.solution_version_arn).unwrap();
        assert_metric_keys(&metrics);
        let model = store.load_model(&v.solution_version_arn).unwrap();
        assert_eq!(model.recipe(), recipe);
        assert!(
            algorithms.contains(&model.header.algorithm.as_str()),
            "{}",
            model.header.algorithm
        );
        if recipe == Recipe::PersonalizedRanking {
            // The header records the algorithm `auto` chose.
            assert_eq!(
                model.header.hyperparameters["algorithm"],
                model.header.algorithm
            );
        }
        ndcg.insert(name, metrics[NDCG_10]);
    }
    println!("NDCG@10 on generated data: {ndcg:?}");
    assert!(ndcg["ranking"] > ndcg["popular"], "{ndcg:?}");
}

/// The ranking semantics of `spec/models.md` 4.1 and 4.3 on one model.
fn check_ranking_semantics(model: &Model) {
    let name = &model.header.algorithm;
    let popular = item_ids(model, model.popular(12));
    let p: Vec<&str> = popular.iter().map(String::as_str).collect();
    // Known items (from the popular end, so popularity is distinct), two unknown ids and two
    // duplicates.
    let input = [
        p[7], "new-b", p[0], p[3], p[7], p[11], "new-a", p[1], p[5], p[0], p[9], p[2],
    ];
    let known: Vec<&str> = {
        let mut seen = Vec::new();
        for id in input {
            if !id.starts_with("new-") && !seen.contains(&id) {
                seen.push(id);
            }
        }
        seen
    };
    let users: Vec<String> = (0..5).map(|u| model.users.get(u).to_owned()).collect();
    let mut personalized = false;
    for user in &users {
        let r = model.rank(user, &[], &input);
        let order = ids(&r, &input);
        // Every distinct id once: duplicates keep their first occurrence only.
        assert_eq!(r.len(), known.len() + 2, "{name}: {order:?}");
        let distinct: BTreeSet<&String> = order.iter().collect();
        assert_eq!(distinct.len(), order.len(), "{name}: {order:?}");
        assert!(!r.iter().any(|x| x.input_index == 4 || x.input_index == 9));
        // Known items first, scored, descending, summing to 1.
        let scores: Vec<f64> = r[..known.len()].iter().map(|x| x.score.unwrap()).collect();
        let sum: f64 = scores.iter().sum();
        assert!((sum - 1.0).abs() < 1e-6, "{name}: scores sum to {sum}");
        assert!(
            scores.windows(2).all(|w| w[0] >= w[1]),
            "{name}: {scores:?}"
        );
        assert!(scores.iter().all(|s| *s > 0.0 && *s <= 1.0));
        // Unknown items last, in input order, without a score.
        assert_eq!(order[known.len()..], ["new-b", "new-a"], "{name}");
        assert!(r[known.len()..].iter().all(|x| x.score.is_none()));
        personalized |= order[..known.len()] != known_by_popularity(model, &known)[..];
    }
    assert!(
        personalized,
        "{name}: no known user's ranking differs from popularity"
    );

    // An unknown user without events: popularity order (ties keep input order).
    let r = model.rank("nobody-at-all", &[], &input);
    let order = ids(&r, &input);
    assert_eq!(
        order[..known.len()],
        known_by_popularity(model, &known)[..],
        "{name}"
    );
    let sum: f64 = r.iter().filter_map(|x| x.score).sum();
    assert!((sum - 1.0).abs() < 1e-6);
    assert_eq!(order[known.len()..], ["new-b", "new-a"]);
}

/// Known ids by popularity, most popular first, ties in the given order.
fn known_by_popularity(model: &Model, known: &[&str]) -> Vec<String> {
    let mut v: Vec<&str> = known.to_vec();
    v.sort_by_key(|id| {
        std::cmp::Reverse(model.popularity[model.items.index(id).unwrap() as usize])
    });
    v.into_iter().map(str::to_owned).collect()
}

#[test]
fn loaded_models_rank_with_personalize_semantics() {
    let g = Generated::small();
    solution(&g.store, "ials", Recipe::PersonalizedRanking, FAST_IALS);
    solution(
        &g.store,
        "ease",
        Recipe::PersonalizedRanking,
        &[("algorithm", "ease")],
    );
    for name in ["ials", "ease"] {
        let (_, model) = trained_model(&g.store, name);
        assert_eq!(model.header.algorithm, name);
        check_ranking_semantics(&model);
    }
    // Popularity-Count ranks everyone by popularity.
    solution(&g.store, "popular", Recipe::PopularityCount, &[]);
    let (_, model) = trained_model(&g.store, "popular");
    let input: Vec<&str> = [5u32, 1, 9, 3]
        .iter()
        .map(|&k| model.item_id(model.popular(10)[k as usize]))
        .collect();
    let user = model.users.get(0).to_owned();
    assert_eq!(
        ids(&model.rank(&user, &[], &input), &input),
        known_by_popularity(&model, &input)
    );
}

/// Rank `input` for `user` and return the score mass of the `target` items.
fn mass(model: &Model, user: &str, recent: &[(&str, f32)], input: &[&str], target: &[&str]) -> f64 {
    model
        .rank(user, recent, input)
        .iter()
        .filter(|r| target.contains(&input[r.input_index]))
        .filter_map(|r| r.score)
        .sum()
}

#[test]
fn recent_events_move_the_ranking_toward_similar_items_without_retraining() {
    let g = Generated::small();
    solution(&g.store, "ials", Recipe::PersonalizedRanking, FAST_IALS);
    solution(
        &g.store,
        "ease",
        Recipe::PersonalizedRanking,
        &[("algorithm", "ease")],
    );
    for name in ["ials", "ease"] {
        let (_, model) = trained_model(&g.store, name);
        let mut checked = 0;
        for u in 0..model.users.len() as u32 {
            let user = model.users.get(u).to_owned();
            let history = history_ids(&model, &user);
            if history.len() < 10 {
                continue;
            }
            // The user's favourite genre, and a genre they never touched.
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for item in &history {
                for genre in &g.genres[item] {
                    *counts.entry(genre).or_default() += 1;
                }
            }
            let favourite = counts.iter().max_by_key(|(_, &c)| c).unwrap().0.to_string();
            let Some(other) = attune::generate::GENRES
                .iter()
                .find(|genre| !counts.contains_key(*genre))
            else {
                continue;
            };
            let fav = BTreeSet::from([favourite.clone()]);
            let oth = BTreeSet::from([(*other).to_owned()]);
            // Popular items of each genre that the user has not seen, never of both.
            let pick = |want: &BTreeSet<String>, avoid: &BTreeSet<String>| -> Vec<String> {
                item_ids(&model, model.popular(model.items.len()))
                    .into_iter()
                    .filter(|id| {
                        g.shares_genre(id, want)
                            && !g.shares_genre(id, avoid)
                            && !history.contains(id)
                    })
                    .collect()
            };
            let (liked, new) = (pick(&fav, &oth), pick(&oth, &fav));
            if liked.len() < 8 || new.len() < 14 {
                continue;
            }
            let input: Vec<&str> = liked[..8]
                .iter()
                .chain(&new[..8])
                .map(String::as_str)
                .collect();
            let target: Vec<&str> = new[..8].iter().map(String::as_str).collect();
            // Six events on other items of the new genre, passed at request time.
            let recent: Vec<(&str, f32)> = new[8..14]
                .iter()
                .map(|id| (id.as_str(), model.event_weight("click")))
                .collect();
            let before = mass(&model, &user, &[], &input, &target);
            let after = mass(&model, &user, &recent, &input, &target);
            assert!(
                after > before,
                "{name}, user {user}: {other} items hold {before:.4} of the ranking before and \
                 {after:.4} after six {other} events"
            );
            // An anonymous session with the same events prefers the new genre: most of the top
            // half of its ranking is from it.
            let session = model.rank("session-without-history", &recent, &input);
            let top = ids(&session[..8], &input);
            let hits = top
                .iter()
                .filter(|id| target.contains(&id.as_str()))
                .count();
            println!(
                "{name}, user {user}: mass {before:.4} -> {after:.4}, session top 8 holds {hits}"
            );
            assert!(
                hits > 4,
                "{name}: the session's top 8 holds {hits} {other} items: {top:?}"
            );
            checked += 1;
            if checked == 3 {
                break;
            }
        }
        assert_eq!(checked, 3, "{name}: too few users to test");
    }
}

#[test]
fn similar_items_give_cold_items_genre_neighbours_and_unknown_items_popular_ones() {
    let g = Generated::small();
    let store = &g.store;
    // A new item, put after the import: no interactions, genres shared with others only.
    let cold_genres: BTreeSet<String> = ["Horror", "Western"].map(str::to_owned).into();
    let items_arn = store
        .dataset(GROUP, DatasetType::Items)
        .unwrap()
        .info()
        .dataset_arn
        .clone();
    let recorder = Recorder::new(store.clone());
    recorder
        .put_items(&PutItemsRequest {
            dataset_arn: items_arn,
            items: vec![Item {
                item_id: "cold-1".into(),
                properties: Some(
                    json!({
                        "genres": "Horror|Western",
                        "price": 9.5,
                        "brand": "Nobrandatall",
                        "creationTimestamp": 1_700_000_000,
                        "title": "Qzxv Wkjq"
                    })
                    .to_string(),
                ),
            }],
        })
        .unwrap();
    drop(recorder);
    let sharing = g
        .genres
        .keys()
        .filter(|id| g.shares_genre(id, &cold_genres))
        .count();
    assert!(sharing >= 10, "only {sharing} items are Horror or Western");

    solution(store, "similar", Recipe::SimilarItems, &[]);
    let (_, model) = trained_model(store, "similar");
    let cold = model
        .items
        .index("cold-1")
        .expect("the put item is in the model");
    assert_eq!(model.popularity[cold as usize], 0);
    let neighbours = item_ids(&model, &model.similar("cold-1", 10));
    assert_eq!(neighbours.len(), 10);
    for id in &neighbours {
        assert!(
            g.shares_genre(id, &cold_genres),
            "{id} ({:?}) shares no genre with cold-1",
            g.genres[id]
        );
    }
    assert_ne!(neighbours, item_ids(&model, model.popular(10)));

    // An unknown item: the most popular items.
    assert_eq!(
        model.similar("no-such-item", 10),
        model.popular(10).to_vec()
    );
}

// ---------------------------------------------------------------------------------------------
// Interruption and hyperparameters

/// Sets the cancel flag at the first advance (the first iALS iteration).
struct CancelOnFirstAdvance<'a> {
    cancel: &'a AtomicBool,
    advances: AtomicUsize,
}

impl Progress for CancelOnFirstAdvance<'_> {
    fn advance(&self, _n: u64) {
        self.advances.fetch_add(1, Ordering::SeqCst);
        self.cancel.store(true, Ordering::SeqCst);
    }
}

#[test]
fn setting_cancel_stops_training_without_a_model() {
    let g = Generated::new(100, 200, 3000, 11);
    let store = &g.store;
    solution(store, "stopped", Recipe::PersonalizedRanking, FAST_IALS);
    let cancel = AtomicBool::new(false);
    let progress = CancelOnFirstAdvance {
        cancel: &cancel,
        advances: AtomicUsize::new(0),
    };
    let err = train::create_solution_version(
        store,
        "stopped",
        &TrainOptions::default(),
        &progress,
        &cancel,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Interrupted), "{err:?}");
    assert_eq!(
        progress.advances.load(Ordering::SeqCst),
        1,
        "stopped after one iteration"
    );
    let v = assert_single_version_without_model(store, "stopped", "CREATE STOPPED");
    assert_eq!(v.failure_reason.as_deref(), Some("interrupted"));

    // A stopped version stays listed; the next one trains.
    let next = train(store, "stopped", false).unwrap();
    let versions = store.list_solution_versions("stopped").unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(
        store
            .latest_solution_version("stopped")
            .unwrap()
            .solution_version_arn,
        next.solution_version_arn
    );
}

#[test]
fn bad_hyperparameters_are_invalid_input_naming_the_key() {
    let (_dir, store) = empty_store();
    let cases: [(Recipe, (&str, &str), &[&str]); 8] = [
        (
            Recipe::PersonalizedRanking,
            ("factorz", "8"),
            &["factorz", "factors", "iterations"],
        ),
        (
            Recipe::PersonalizedRanking,
            ("factors", "1000"),
            &["factors", "[4, 512]"],
        ),
        (
            Recipe::PersonalizedRanking,
            ("regularization", "-1"),
            &["regularization", "outside"],
        ),
        (
            Recipe::PersonalizedRanking,
            ("alpha", "lots"),
            &["alpha", "not a number"],
        ),
        (
            Recipe::PersonalizedRanking,
            ("algorithm", "svd"),
            &["algorithm", "ials", "ease", "sequence"],
        ),
        (
            Recipe::SimilarItems,
            ("popularity_discount_factor", "1.5"),
            &["popularity_discount_factor", "[0, 1]"],
        ),
        (
            Recipe::SimilarItems,
            ("factors", "8"),
            &["factors", "attune-similar-items"],
        ),
        (
            Recipe::PopularityCount,
            ("neighbours", "5"),
            &["neighbours", "attune-popularity-count"],
        ),
    ];
    for (k, (recipe, (key, value), words)) in cases.into_iter().enumerate() {
        let err = train::create_solution(
            &store,
            &format!("bad-{k}"),
            GROUP,
            recipe,
            None,
            config(&[(key, value)]),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, Error::InvalidInput(_)),
            "{key}={value}: {err:?}"
        );
        for w in words {
            assert!(
                msg.contains(w),
                "{key}={value}: {msg:?} does not name {w:?}"
            );
        }
    }
    assert!(store.list_solutions(None).unwrap().is_empty());
    // Aliases and good values are accepted.
    solution(
        &store,
        "ok",
        Recipe::PersonalizedRanking,
        &[("hidden_dimension", "32"), ("recency_mask", "false")],
    );

    // A solution file changed by hand is checked again when training starts.
    let path = store.root().join("solutions/ok/solution.json");
    let text = fs::read_to_string(&path)
        .unwrap()
        .replace("hidden_dimension", "hidden_dimensions");
    fs::write(&path, text).unwrap();
    let err = train(&store, "ok", false).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput(m) if m.contains("hidden_dimensions")),
        "{err:?}"
    );
}

/// Solution configs copied from Personalize (its hyperparameter tables with their defaults)
/// are accepted; the percentile pairs are checked against each other.
#[test]
fn personalize_solution_configs_are_accepted() {
    let (_dir, store) = empty_store();
    let ranking = [
        ("hidden_dimension", "149"),
        ("bptt", "32"),
        ("recency_mask", "true"),
        ("min_user_history_length_percentile", "0.0"),
        ("max_user_history_length_percentile", "0.99"),
    ];
    let sims = [
        ("popularity_discount_factor", "0.5"),
        ("min_cointeraction_count", "3"),
        ("min_user_history_length_percentile", "0.005"),
        ("max_user_history_length_percentile", "0.995"),
        ("min_item_interaction_count_percentile", "0.01"),
        ("max_item_interaction_count_percentile", "0.9"),
    ];
    solution(&store, "pr", Recipe::PersonalizedRanking, &ranking);
    solution(&store, "sims", Recipe::SimilarItems, &sims);
    let err = train::create_solution(
        &store,
        "bad",
        GROUP,
        Recipe::SimilarItems,
        None,
        config(&[
            ("min_user_history_length_percentile", "0.9"),
            ("max_user_history_length_percentile", "0.1"),
        ]),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, Error::InvalidInput(_))
            && msg.contains("min_user_history_length_percentile")
            && msg.contains("max_user_history_length_percentile"),
        "{msg}"
    );
}

/// `max_user_history_length_percentile` below 1 leaves the heaviest users out of fitting: the
/// item side no longer counts them, yet they stay known users ranked from their own history.
#[test]
fn users_above_the_history_percentile_are_ranked_but_not_fitted() {
    let g = Generated::small();
    let store = &g.store;
    // The expected left-out users: more events than the nearest-rank 0.98 quantile.
    let data = train::data::load(store, GROUP, &train::data::DataConfig::default()).unwrap();
    let mut lengths = vec![0usize; data.users.len()];
    for e in &data.events {
        lengths[e.user as usize] += 1;
    }
    let mut sorted = lengths.clone();
    sorted.sort_unstable();
    let q98 = sorted[(0.98 * sorted.len() as f64).ceil() as usize - 1];
    let heavy: Vec<&str> = data
        .users
        .iter()
        .zip(&lengths)
        .filter(|(_, &n)| n > q98)
        .map(|(u, _)| u.as_str())
        .collect();
    assert!(
        (1..=6).contains(&heavy.len()),
        "{} users above {q98} events",
        heavy.len()
    );
    let band = [("max_user_history_length_percentile", "0.98")];
    for algorithm in ["ials", "ease"] {
        let base: Vec<(&str, &str)> = if algorithm == "ials" {
            FAST_IALS.to_vec()
        } else {
            vec![("algorithm", "ease")]
        };
        let banded: Vec<(&str, &str)> = base.iter().chain(&band).copied().collect();
        let (plain_name, band_name) = (format!("{algorithm}-plain"), format!("{algorithm}-band"));
        solution(store, &plain_name, Recipe::PersonalizedRanking, &base);
        solution(store, &band_name, Recipe::PersonalizedRanking, &banded);
        let (_, plain) = trained_model(store, &plain_name);
        // With evaluation: the band composes with the held-out split.
        let version = train(store, &band_name, true).unwrap();
        assert_metric_keys(
            &store
                .solution_metrics(&version.solution_version_arn)
                .unwrap(),
        );
        let model = store.load_model(&version.solution_version_arn).unwrap();
        assert_eq!(
            model.header.hyperparameters["max_user_history_length_percentile"],
            "0.98"
        );
        assert_eq!(model.header.hyperparameters["bptt"], "32");

        // Each item counts one user fewer per left-out user who took it.
        let mut expected = plain.popularity.clone();
        let mut pairs = 0;
        for user in &heavy {
            let history = history_ids(&plain, user);
            assert_eq!(history_ids(&model, user), history, "{algorithm}: {user}");
            for id in &history {
                expected[plain.items.index(id).unwrap() as usize] -= 1;
            }
            pairs += history.len() as u64;
        }
        assert_eq!(model.popularity, expected, "{algorithm}");
        assert_eq!(model.header.interactions, plain.header.interactions - pairs);

        for user in &heavy {
            let u = model
                .users
                .index(user)
                .expect("a left-out user stays known");
            let history: Vec<(u32, f32)> = model.trained_history(u).collect();
            let seen: BTreeSet<u32> = history.iter().map(|h| h.0).collect();
            // Unseen items by how often the fitted users took them together with the user's
            // items: the ten most co-consumed and the ten least.
            let mut together = vec![0usize; model.items.len()];
            for v in 0..model.users.len() as u32 {
                if heavy.contains(&model.users.get(v)) {
                    continue;
                }
                let items: Vec<u32> = model.trained_history(v).map(|h| h.0).collect();
                let shared = items.iter().filter(|i| seen.contains(i)).count();
                for i in items {
                    together[i as usize] += shared;
                }
            }
            let mut unseen: Vec<u32> = (0..model.items.len() as u32)
                .filter(|i| !seen.contains(i))
                .collect();
            unseen.sort_by_key(|&i| (std::cmp::Reverse(together[i as usize]), i));
            let (related, unrelated) = (&unseen[..10], &unseen[unseen.len() - 10..]);
            let input: Vec<String> = related
                .iter()
                .chain(unrelated)
                .map(|&i| model.item_id(i).to_owned())
                .collect();
            let ranked = model.rank(user, &[], &input);
            let top: Vec<&str> = ranked[..10]
                .iter()
                .map(|r| input[r.input_index].as_str())
                .collect();
            let hits = ranked[..10].iter().filter(|r| r.input_index < 10).count();
            println!("{algorithm}, {user}: {hits} of the top 10 are co-consumed items");
            assert!(hits >= 8, "{algorithm}, {user}: top 10 {top:?}");
            // Ranked from their own history against the fitted item side: exactly as a
            // session carrying that history.
            let recent: Vec<(&str, f32)> = history
                .iter()
                .map(|&(i, w)| (model.item_id(i), w))
                .collect();
            assert_eq!(
                ranked,
                model.rank("a-session", &recent, &input),
                "{algorithm}, {user}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The CLI

#[test]
fn cli_quickstart_train_recommend_and_evaluate() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let started = Instant::now();
    let out = attune_ok(args(
        &data,
        &[
            "quickstart",
            "--users",
            "60",
            "--items",
            "150",
            "--interactions",
            "3000",
            "--seed",
            "7",
        ],
    ));
    println!("quickstart: {:.1} s", started.elapsed().as_secs_f64());
    for needle in [
        "dataset group quickstart is ready",
        "solution/quickstart-ranking/",
        "solution/quickstart-similar/",
        "NDCG@10",
        "GetPersonalizedRanking",
        "similar items to",
        "next steps:",
        "attune recommend",
    ] {
        assert!(out.contains(needle), "no {needle:?} in:\n{out}");
    }
    let store = Store::open(&data).unwrap();
    for s in ["quickstart-ranking", "quickstart-similar"] {
        let v = store.latest_solution_version(s).unwrap();
        assert_metric_keys(&store.solution_metrics(&v.solution_version_arn).unwrap());
    }
    // The printed recommend commands run as printed.
    for line in out
        .lines()
        .filter(|l| l.trim_start().starts_with("attune recommend"))
    {
        let words: Vec<&str> = line.split_whitespace().skip(1).collect();
        let printed = json_of(&attune_ok(&words));
        assert!(
            printed["personalizedRanking"].is_array() || printed["itemList"].is_array(),
            "{printed}"
        );
    }

    // train: JSON with the version ARN and Personalize's metrics.
    let train_args = [
        "train",
        "--dataset-group",
        "quickstart",
        "--solution",
        "cli",
        "--hp",
        "algorithm=ials",
        "--hp",
        "factors=8",
        "--hp",
        "iterations=4",
    ];
    let doc = json_of(&attune_ok(args(&data, &train_args)));
    let arn = doc["solutionVersionArn"].as_str().unwrap().to_owned();
    assert!(arn.contains(":solution/cli/"), "{doc}");
    assert_eq!(doc["status"], "ACTIVE");
    assert_eq!(doc["algorithm"], "ials");
    let keys: Vec<&str> = doc["metrics"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, METRIC_KEYS);

    // recommend: a ranking with unknown ids last and without a score.
    let model = store.load_model(&arn).unwrap();
    let user = model.users.get(0).to_owned();
    let items = item_ids(&model, model.popular(3)).join(",") + ",not-an-item";
    let doc = json_of(&attune_ok(args(
        &data,
        &[
            "recommend",
            "--solution-version",
            "cli",
            "--user",
            &user,
            "--items",
            &items,
        ],
    )));
    let list = doc["personalizedRanking"].as_array().unwrap();
    assert_eq!(list.len(), 4, "{doc}");
    assert_eq!(list[3], json!({"itemId": "not-an-item"}));
    let sum: f64 = list[..3].iter().map(|x| x["score"].as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-6, "{doc}");
    let doc = json_of(&attune_ok(args(
        &data,
        &[
            "recommend",
            "--solution-version",
            &arn,
            "--user",
            &user,
            "--num-results",
            "5",
        ],
    )));
    assert_eq!(doc["itemList"].as_array().unwrap().len(), 5, "{doc}");

    // evaluate: write two folds, then train and score on one.
    let split = tmp.path().join("split.json");
    let out = attune_ok(args(
        &data,
        &[
            "evaluate",
            "--solution",
            "cli",
            "--write-split",
            split.to_str().unwrap(),
            "--folds",
            "2",
        ],
    ));
    assert!(
        out.contains("split.0.json") && out.contains("split.1.json"),
        "{out}"
    );
    let folds: Vec<train::SplitFile> = (0..2)
        .map(|k| {
            let bytes = fs::read(tmp.path().join(format!("split.{k}.json"))).unwrap();
            serde_json::from_slice(&bytes).unwrap()
        })
        .collect();
    let tested: Vec<BTreeSet<&str>> = folds
        .iter()
        .map(|f| f.test_users.iter().map(|t| t.user_id.as_str()).collect())
        .collect();
    assert!(!tested[0].is_empty() && tested[0].is_disjoint(&tested[1]));
    let fold0 = tmp.path().join("split.0.json");
    let doc = json_of(&attune_ok(args(
        &data,
        &[
            "evaluate",
            "--solution",
            "cli",
            "--split",
            fold0.to_str().unwrap(),
        ],
    )));
    let keys: Vec<&str> = doc["metrics"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, METRIC_KEYS);
    // GetSolutionMetrics of the trained version.
    let doc = json_of(&attune_ok(args(
        &data,
        &["evaluate", "--solution-version", &arn],
    )));
    assert_eq!(doc["metrics"].as_object().unwrap().len(), METRIC_KEYS.len());

    // A bad hyperparameter: exit 1, one clear line, and no solution left behind.
    let mut bad = train_args.to_vec();
    bad[4] = "cli-bad";
    bad[10] = "iterations=0";
    let out = run_attune(args(&data, &bad));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: hyperparameter iterations: 0 is outside the range [1, 200]"),
        "{stderr}"
    );
    assert!(store.solution("cli-bad").is_err());
    bad[10] = "iterations";
    let out = run_attune(args(&data, &bad));
    assert_eq!(
        out.status.code(),
        Some(2),
        "a malformed --hp is a usage error"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not KEY=VALUE"));
}

// ---------------------------------------------------------------------------------------------
// MovieLens

#[test]
fn movielens_ranking_beats_popularity() {
    let Some(src) = movielens_or_skip("movielens_ranking_beats_popularity") else {
        return;
    };
    let (dir, store) = empty_store();
    let files = movielens_to_personalize(&src, &dir.path().join("csv")).unwrap();
    create_dataset(
        &store,
        DatasetType::Interactions,
        &fs::read_to_string(&files.interactions_schema).unwrap(),
    );
    let started = Instant::now();
    import(&store, DatasetType::Interactions, &files.interactions_csv);
    println!("import: {:.1} s", started.elapsed().as_secs_f64());
    solution(
        &store,
        "ranking",
        Recipe::PersonalizedRanking,
        &[
            ("algorithm", "ials"),
            ("factors", "16"),
            ("iterations", "3"),
        ],
    );
    solution(&store, "popular", Recipe::PopularityCount, &[]);
    // Both scored on the same Personalize split, trained on its training users only.
    let split = train::export_splits(&store, "ranking", 1)
        .unwrap()
        .remove(0);
    let mut ndcg = BTreeMap::new();
    for name in ["ranking", "popular"] {
        let started = Instant::now();
        let metrics = train::evaluate_solution_on_split(
            &store,
            name,
            &split,
            &TrainOptions::default(),
            &NoProgress,
            &AtomicBool::new(false),
        )
        .unwrap();
        assert_metric_keys(&metrics);
        println!("{name}: {:.1} s", started.elapsed().as_secs_f64());
        ndcg.insert(name, metrics[NDCG_10]);
    }
    println!("MovieLens NDCG@10: {ndcg:?}");
    assert!(ndcg["ranking"] > ndcg["popular"] * 1.2, "{ndcg:?}");
}

// ---------------------------------------------------------------------------------------------
// Frozen artifacts (STYLE.md rule 12): tests/fixtures/models/v1

/// The fixture folder of the current artifact format.
fn fixture_dir() -> PathBuf {
    workspace_root().join(format!(
        "tests/fixtures/models/v{}",
        attune::model::FORMAT_VERSION
    ))
}

/// A fixture: file stem, recipe, hyperparameters.
type Fixture = (
    &'static str,
    Recipe,
    &'static [(&'static str, &'static str)],
);

/// The fixtures, one per algorithm.
const FIXTURES: [Fixture; 5] = [
    (
        "ials",
        Recipe::PersonalizedRanking,
        &[
            ("algorithm", "ials"),
            ("factors", "4"),
            ("iterations", "10"),
        ],
    ),
    (
        "ease",
        Recipe::PersonalizedRanking,
        &[("algorithm", "ease")],
    ),
    ("sims", Recipe::SimilarItems, &[("neighbours", "4")]),
    ("popularity", Recipe::PopularityCount, &[]),
    (
        "sequence",
        Recipe::PersonalizedRanking,
        &[
            ("algorithm", "sequence"),
            ("bptt", "4"),
            ("recent_events_half_life", "4"),
        ],
    ),
];

/// A tiny dataset with two tastes: users `u0`..`u14` mostly use items `a0`..`a7`, users
/// `u15`..`u29` items `b0`..`b7`; 34 events each (1,020 in all). The Items dataset gives every
/// item its group as genre and adds one item per group without interactions.
fn write_fixture_data(store: &Store, dir: &Path) {
    create_dataset(store, DatasetType::Interactions, INTERACTIONS_SCHEMA);
    create_dataset(store, DatasetType::Items, ITEMS_SCHEMA);
    let mut csv = String::from("USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP\n");
    for u in 0..30usize {
        let (own, other) = if u < 15 { ('a', 'b') } else { ('b', 'a') };
        // Four items of the user's own group and one of the other.
        let mut picks: Vec<String> = (0..4)
            .map(|k| format!("{own}{}", (u + 3 * k) % 8))
            .collect();
        picks.push(format!("{other}{}", u * 5 % 8));
        for e in 0..34 {
            let kind = if e % 3 == 0 { "buy" } else { "click" };
            let item = &picks[(e + u) % picks.len()];
            csv.push_str(&format!(
                "u{u},{item},{kind},{}\n",
                1_600_000_000 + u * 1000 + e
            ));
        }
    }
    let path = dir.join("interactions.csv");
    fs::write(&path, csv).unwrap();
    import(store, DatasetType::Interactions, &path);
    let mut csv = String::from("ITEM_ID,GENRES\n");
    for group in ['a', 'b'] {
        for k in 0..8 {
            csv.push_str(&format!("{group}{k},{group}\n"));
        }
        csv.push_str(&format!("{group}-cold,{group}\n"));
    }
    let path = dir.join("items.csv");
    fs::write(&path, csv).unwrap();
    import(store, DatasetType::Items, &path);
}

/// The inference outputs recorded next to the fixtures: rankings (with and without real-time
/// events, for known and unknown users), top-N lists and similar items.
fn fixture_outputs(model: &Model) -> Json {
    let input = ["b3", "a0", "new-1", "a5", "b0", "a2", "b6", "a0", "a7"];
    let rank = |user: &str, recent: &[(&str, f32)]| -> Json {
        let ranked = model.rank(user, recent, &input);
        json!({
            "user": user,
            "recent": recent.iter().map(|r| r.0).collect::<Vec<_>>(),
            "ranking": ranked
                .iter()
                .map(|r| json!([input[r.input_index], r.score]))
                .collect::<Vec<_>>(),
        })
    };
    let recent = [("b1", 1.0), ("b4", 1.0), ("b5", 1.0)];
    let top_n: Vec<Json> = ["u0", "u20", "stranger"]
        .iter()
        .map(|u| {
            let top: Vec<u32> = model.top_n(u, &[], 4).iter().map(|p| p.0).collect();
            json!({"user": u, "items": item_ids(model, &top)})
        })
        .collect();
    let similar: Vec<Json> = ["a0", "b3", "a-cold", "unknown"]
        .iter()
        .map(|i| json!({"item": i, "items": item_ids(model, &model.similar(i, 4))}))
        .collect();
    json!({
        "recipe": model.recipe().name(),
        "algorithm": model.header.algorithm,
        "items": model.items.len(),
        "users": model.users.len(),
        "rank": [rank("u0", &[]), rank("u20", &[]), rank("u1", &recent), rank("stranger", &[])],
        "topN": top_n,
        "similar": similar,
    })
}

/// Trains the fixture models that have no artifact yet and writes them, then `expected.json`
/// from every artifact (run with `ATTUNE_WRITE_FIXTURES=1`). Existing artifacts stay frozen.
fn write_fixtures(out: &Path) {
    let (dir, store) = empty_store();
    write_fixture_data(&store, dir.path());
    fs::create_dir_all(out).unwrap();
    let mut expected = serde_json::Map::new();
    for (stem, recipe, hyperparameters) in FIXTURES {
        let path = out.join(format!("{stem}.bin"));
        if !path.exists() {
            solution(&store, stem, recipe, hyperparameters);
            let (_, model) = trained_model(&store, stem);
            model.save(&path).unwrap();
        }
        let loaded = Model::load(&path).unwrap();
        expected.insert(stem.to_owned(), fixture_outputs(&loaded));
    }
    fs::write(out.join("expected.json"), format_expected(&expected)).unwrap();
}

/// `expected.json` with one line per recorded call, so diffs stay readable.
fn format_expected(expected: &serde_json::Map<String, Json>) -> String {
    let mut fixtures = Vec::new();
    for (stem, outputs) in expected {
        let mut fields = Vec::new();
        for (key, value) in outputs.as_object().unwrap() {
            let text = match value {
                Json::Array(calls) => {
                    let lines: Vec<String> = calls.iter().map(|c| format!("      {c}")).collect();
                    format!("[\n{}\n    ]", lines.join(",\n"))
                }
                other => other.to_string(),
            };
            fields.push(format!("    {}: {text}", Json::from(key.as_str())));
        }
        fixtures.push(format!(
            "  {}: {{\n{}\n  }}",
            Json::from(stem.as_str()),
            fields.join(",\n")
        ));
    }
    format!("{{\n{}\n}}\n", fixtures.join(",\n"))
}

/// Whether two recorded outputs agree: equal, except numbers within 1e-6.
fn same_output(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => {
            (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() <= 1e-6
        }
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_output(x, y))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_output(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn fixtures_of_the_model_format_load_with_the_recorded_outputs() {
    let dir = fixture_dir();
    if std::env::var_os("ATTUNE_WRITE_FIXTURES").is_some_and(|v| v == "1") {
        write_fixtures(&dir);
        println!("wrote the model fixtures into {}", dir.display());
    }
    let expected: Json = json_of(&fs::read_to_string(dir.join("expected.json")).unwrap());
    for (stem, recipe, _) in FIXTURES {
        let path = dir.join(format!("{stem}.bin"));
        let size = fs::metadata(&path).unwrap().len();
        assert!(
            size < 16_384,
            "{stem}.bin is {size} bytes: keep fixtures tiny"
        );
        let model = Model::load(&path).unwrap_or_else(|e| panic!("{stem}.bin: {e}"));
        assert_eq!(model.recipe(), recipe);
        let got = fixture_outputs(&model);
        assert!(
            same_output(&got, &expected[stem]),
            "{stem}.bin gives other outputs than recorded:\n{got:#}\nexpected:\n{:#}",
            expected[stem]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The sequence model (algorithm=sequence)

/// Items of the cycle `c0 -> c1 -> ... -> c29 -> c0`.
const CYCLE: usize = 30;

/// The item after `item` on the cycle.
fn next_on_cycle(item: &str) -> String {
    let k: usize = item.trim_start_matches('c').parse().unwrap();
    format!("c{}", (k + 1) % CYCLE)
}

/// 100 users, each walking the cycle from their own start for 10-20 steps, one event per step
/// (1,500 events): the next item is always the one after the last.
fn write_cycle_data(store: &Store, dir: &Path) {
    create_dataset(store, DatasetType::Interactions, INTERACTIONS_SCHEMA);
    let mut csv = String::from("USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP\n");
    for u in 0..100usize {
        let start = u * 7 % CYCLE;
        for step in 0..10 + u % 11 {
            csv.push_str(&format!(
                "u{u},c{},click,{}\n",
                (start + step) % CYCLE,
                1_600_000_000 + u * 1000 + step
            ));
        }
    }
    let path = dir.join("cycle.csv");
    fs::write(&path, csv).unwrap();
    import(store, DatasetType::Interactions, &path);
}

/// The last item of user `u` in [`write_cycle_data`].
fn last_on_cycle(u: usize) -> String {
    format!("c{}", (u * 7 % CYCLE + 10 + u % 11 - 1) % CYCLE)
}

fn cycle_items() -> Vec<String> {
    (0..CYCLE).map(|k| format!("c{k}")).collect()
}

#[test]
fn the_sequence_model_ranks_the_next_item_first_and_auto_chooses_it() {
    let (dir, store) = empty_store();
    write_cycle_data(&store, dir.path());
    let input = cycle_items();
    solution(
        &store,
        "seq",
        Recipe::PersonalizedRanking,
        &[
            ("algorithm", "sequence"),
            ("bptt", "4"),
            ("recent_events_half_life", "1"),
        ],
    );
    let (_, model) = trained_model(&store, "seq");
    assert_eq!(model.header.algorithm, "sequence");
    for u in 0..100 {
        let user = format!("u{u}");
        let first = &input[model.rank(&user, &[], &input)[0].input_index];
        assert_eq!(*first, next_on_cycle(&last_on_cycle(u)), "user {user}");
    }
    // A new user's events alone decide, the newest the most.
    let ranked = model.rank("stranger", &[("c12", 1.0), ("c3", 1.0)], &input);
    assert_eq!(input[ranked[0].input_index], "c4");
    let ranked = model.rank("stranger", &[("c3", 1.0), ("c12", 1.0)], &input);
    assert_eq!(input[ranked[0].input_index], "c13");
    // Real-time events of a known user move the ranking the same way.
    let ranked = model.rank("u0", &[("c20", 1.0)], &input);
    assert_eq!(input[ranked[0].input_index], "c21");

    // `auto` tunes on validation users and chooses the sequence model here, where order is
    // everything; the choice is recorded on the version and in the model's header.
    solution(&store, "auto", Recipe::PersonalizedRanking, &[]);
    let version = train(&store, "auto", true).unwrap();
    let tuned = version
        .tuned_hpo_params
        .as_ref()
        .expect("auto records what it tuned")
        .algorithm_hyper_parameters
        .clone();
    assert_eq!(tuned["algorithm"], "sequence", "{tuned:?}");
    for key in [
        "ease_lambda",
        "transition_weight",
        "recent_events_half_life",
    ] {
        assert!(tuned.contains_key(key), "{key} missing from {tuned:?}");
    }
    let model = store.load_model(&version.solution_version_arn).unwrap();
    assert_eq!(model.header.algorithm, "sequence");
    assert_eq!(
        model.header.hyperparameters["ease_lambda"],
        tuned["ease_lambda"]
    );
    let described = store
        .list_solution_versions("auto")
        .unwrap()
        .into_iter()
        .next()
        .unwrap();
    assert_eq!(described.tuned_hpo_params, version.tuned_hpo_params);
    let metrics = store
        .solution_metrics(&version.solution_version_arn)
        .unwrap();
    assert!(metrics[NDCG_10] > 0.5, "{metrics:?}");
}

#[test]
fn real_time_events_move_the_sequence_ranking_over_the_server_and_survive_a_restart() {
    let (dir, store) = empty_store();
    write_cycle_data(&store, dir.path());
    let tracker = store.create_event_tracker(GROUP, "web").unwrap();
    solution(
        &store,
        "seq",
        Recipe::PersonalizedRanking,
        &[
            ("algorithm", "sequence"),
            ("bptt", "4"),
            ("recent_events_half_life", "1"),
        ],
    );
    let (version, _) = trained_model(&store, "seq");
    drop(store);
    let mut server = tests::start_server(&dir.path().join("data"));
    let connect =
        |server: &tests::ServerHandle| attune::client::Client::new(&server.base_url()).unwrap();
    let client = connect(&server);
    let out = client
        .control(
            "CreateCampaign",
            &json!({"name": "seq", "solutionVersionArn": version.solution_version_arn}),
        )
        .unwrap();
    let campaign = out["campaignArn"].as_str().unwrap().to_owned();
    tests::wait_until(
        std::time::Duration::from_secs(60),
        "the campaign to become ACTIVE",
        || {
            client
                .control("DescribeCampaign", &json!({ "campaignArn": campaign }))
                .unwrap()["campaign"]["status"]
                == "ACTIVE"
        },
    );
    let input = cycle_items();
    let first = |client: &attune::client::Client| -> String {
        client
            .get_personalized_ranking(&campaign, "u5", &input, None)
            .unwrap()
            .personalized_ranking[0]
            .item_id
            .clone()
    };
    assert_eq!(first(&client), next_on_cycle(&last_on_cycle(5)));
    // The user jumps to c17: the next item is now c18.
    client
        .put_events(&attune::api::PutEventsRequest {
            tracking_id: tracker.tracking_id.clone(),
            session_id: "s-5".into(),
            user_id: Some("u5".into()),
            event_list: vec![attune::api::Event {
                event_type: "click".into(),
                sent_at: 1.9e9,
                item_id: Some("c17".into()),
                ..Default::default()
            }],
        })
        .unwrap();
    assert_eq!(first(&client), "c18");
    // After a restart the artifact loads again and the event is still counted.
    server.restart();
    let client = connect(&server);
    assert_eq!(first(&client), "c18");
}

#[test]
fn hpo_picks_the_clearly_better_setting_and_the_version_reports_it() {
    use attune::store::solutions::{
        CategoricalRange, HpoConfig, HpoResourceConfig, HyperParameterRanges,
    };
    let (dir, store) = empty_store();
    write_cycle_data(&store, dir.path());
    // On the cycle only the newest event tells what comes next: weighing every event alike
    // (half-life 0) is clearly worse than weighing the newest most (half-life 1).
    let mut config = config(&[("algorithm", "sequence"), ("bptt", "4")]);
    config.perform_hpo = true;
    config.hpo_config = Some(HpoConfig {
        hpo_resource_config: Some(HpoResourceConfig {
            max_number_of_training_jobs: Some("2".into()),
            max_parallel_training_jobs: Some("2".into()),
        }),
        algorithm_hyper_parameter_ranges: HyperParameterRanges {
            categorical_hyper_parameter_ranges: vec![CategoricalRange {
                name: "recent_events_half_life".into(),
                values: vec!["0".into(), "1".into()],
            }],
            ..HyperParameterRanges::default()
        },
        ..HpoConfig::default()
    });
    train::create_solution(
        &store,
        "hpo",
        GROUP,
        Recipe::PersonalizedRanking,
        None,
        config,
    )
    .unwrap();
    let version = train(&store, "hpo", true).unwrap();
    let tuned = &version
        .tuned_hpo_params
        .as_ref()
        .expect("HPO records what it chose")
        .algorithm_hyper_parameters;
    assert_eq!(
        tuned,
        &BTreeMap::from([("recent_events_half_life".to_owned(), "1".to_owned())])
    );
    let model = store.load_model(&version.solution_version_arn).unwrap();
    assert_eq!(model.header.hyperparameters["recent_events_half_life"], "1");
    // The metrics are the refitted model's: the chosen setting finds the next item.
    let metrics = store
        .solution_metrics(&version.solution_version_arn)
        .unwrap();
    assert!(metrics[NDCG_10] > 0.5, "{metrics:?}");

    // A range of a key the recipe does not take is refused when the solution is created.
    let mut bad = SolutionConfig {
        perform_hpo: true,
        ..SolutionConfig::default()
    };
    bad.hpo_config = Some(HpoConfig {
        algorithm_hyper_parameter_ranges: HyperParameterRanges {
            categorical_hyper_parameter_ranges: vec![CategoricalRange {
                name: "bogus".into(),
                values: vec!["1".into()],
            }],
            ..HyperParameterRanges::default()
        },
        ..HpoConfig::default()
    });
    let err = train::create_solution(&store, "bad", GROUP, Recipe::PersonalizedRanking, None, bad)
        .unwrap_err();
    assert!(err.to_string().contains("bogus"), "{err}");
}

#[test]
fn a_split_with_candidate_lists_scores_the_sampled_re_ranking_task() {
    let (dir, store) = empty_store();
    write_cycle_data(&store, dir.path());
    solution(
        &store,
        "seq",
        Recipe::PersonalizedRanking,
        &[
            ("algorithm", "sequence"),
            ("bptt", "4"),
            ("recent_events_half_life", "1"),
        ],
    );
    let (_, model) = trained_model(&store, "seq");
    let user = |input: &[&str], truth: &str, candidates: &[&str]| train::SplitUser {
        user_id: "x".into(),
        input: input.iter().map(|s| (*s).to_owned()).collect(),
        truth: vec![truth.to_owned()],
        candidates: candidates.iter().map(|s| (*s).to_owned()).collect(),
    };
    // The truth (the next item) first in one list, and a wrong truth in the other.
    let split = train::SplitFile {
        train_users: Vec::new(),
        test_users: vec![
            user(&["c1", "c2"], "c3", &["c9", "c20", "c3", "c15"]),
            user(&["c1", "c2"], "c20", &["c9", "c20", "c3", "c15"]),
        ],
    };
    let metrics = train::evaluate_model_on_split(&model, &split, 1);
    // First user: rank 1 (NDCG 1, MRR 1); second: c20 is not ranked first.
    assert!(
        metrics["sampled_mrr"] > 0.5 && metrics["sampled_mrr"] < 1.0,
        "{metrics:?}"
    );
    assert!(metrics["sampled_ndcg_at_10"] > 0.5, "{metrics:?}");
    let only_first = train::SplitFile {
        train_users: Vec::new(),
        test_users: vec![split.test_users[0].clone()],
    };
    let m = train::evaluate_model_on_split(&model, &only_first, 1);
    assert_eq!((m["sampled_ndcg_at_10"], m["sampled_mrr"]), (1.0, 1.0));
}
