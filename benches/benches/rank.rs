//! In-process inference: `Model::rank` of 500 candidates (GetPersonalizedRanking's maximum) for
//! one user, on models trained from synthetic data (5,000 users, 2,000 items, 150,000
//! interactions): iALS with 64 factors and EASE. Each algorithm is measured for a user known
//! to the model without real-time events, and for a user with 50 real-time events (passed as
//! `recent`, so the fold-in solve is part of the measured time), known and anonymous.
//! Run: `cargo bench -p benches --bench rank`.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use attune::import::{ImportRequest, NoProgress};
use attune::model::{Model, Recipe};
use attune::store::solutions::SolutionConfig;
use attune::train::{create_solution_version, TrainOptions};
use attune::{DatasetType, ImportMode, Store};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const CANDIDATES: usize = 500;
const RECENT: usize = 50;

/// Trains one PERSONALIZED_RANKING version with `algorithm` on the store's data.
fn train(store: &Store, algorithm: &str) -> Model {
    let mut config = SolutionConfig::default();
    let hp = &mut config.algorithm_hyper_parameters;
    hp.insert("algorithm".into(), algorithm.into());
    if algorithm == "ials" {
        hp.insert("factors".into(), "64".into());
    }
    store
        .create_solution(algorithm, "g", Recipe::PersonalizedRanking, None, config)
        .expect("create solution");
    let options = TrainOptions {
        evaluate: false,
        ..TrainOptions::default()
    };
    let version = create_solution_version(
        store,
        algorithm,
        &options,
        &NoProgress,
        &AtomicBool::new(false),
    )
    .expect("train");
    store
        .load_model(&version.solution_version_arn)
        .expect("load model")
}

fn rank(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let generated = attune::generate::generate(
        &attune::generate::GenerateConfig {
            users: 5_000,
            items: 2_000,
            interactions: 150_000,
            seed: 7,
        },
        &dir.path().join("data"),
        &NoProgress,
    )
    .expect("generate");
    let store = benches::fresh_store(
        &dir.path().join("store"),
        DatasetType::Interactions,
        &generated.interactions_schema,
    );
    store
        .dataset("g", DatasetType::Interactions)
        .expect("dataset")
        .import(
            &ImportRequest {
                job_name: "bench".into(),
                data_location: generated.interactions_csv.display().to_string(),
                mode: ImportMode::Full,
            },
            &NoProgress,
        )
        .expect("import");

    let mut group = c.benchmark_group("rank");
    group
        .throughput(Throughput::Elements(CANDIDATES as u64))
        .measurement_time(Duration::from_secs(5));
    for algorithm in ["ials", "ease"] {
        let model = train(&store, algorithm);
        let n = model.items.len();
        assert!(n >= CANDIDATES + RECENT, "{n} items is too few");
        // Candidates spread over the catalog; recent events on other items.
        let candidates: Vec<&str> = (0..CANDIDATES)
            .map(|k| model.item_id((k * n / CANDIDATES) as u32))
            .collect();
        let recent: Vec<(&str, f32)> = (0..RECENT)
            .map(|k| (model.item_id((k * n / RECENT + 1) as u32), 1.0))
            .collect();
        let user = model.users.get(0).to_owned();
        let none: &[(&str, f32)] = &[];
        let cases = [
            ("known_user", user.as_str(), none),
            ("known_user_50_recent", user.as_str(), &recent),
            ("anonymous_50_recent", "anonymous-session", &recent),
        ];
        for (case, user_id, recent) in cases {
            group.bench_with_input(
                BenchmarkId::new(format!("{algorithm}_500_candidates"), case),
                &(user_id, recent),
                |b, (user_id, recent)| {
                    b.iter(|| model.rank(user_id, recent, &candidates));
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, rank);
criterion_main!(benches);
