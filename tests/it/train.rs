use std::sync::atomic::AtomicBool;
use std::time::Instant;
use attune::generate::GenerateConfig;
use attune::import::{ImportRequest, NoProgress};
use attune::model::Recipe;
use attune::store::solutions::SolutionConfig;
use attune::train::{create_solution_version, TrainOptions};
use attune::{DatasetType, ImportMode, Store};

#[test]
fn timing() {
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let cfg = GenerateConfig { users: 300, items: 500, interactions: 15_000, seed: 1 };
    let g = attune::generate::generate(&cfg, &dir.path().join("gen"), &NoProgress).unwrap();
    let store = Store::open(dir.path().join("data")).unwrap();
    store.create_dataset_group("g", None).unwrap();
    for (ty, csv, schema) in [(DatasetType::Interactions, &g.interactions_csv, &g.interactions_schema), (DatasetType::Items, &g.items_csv, &g.items_schema)] {
        let name = format!("g-{ty}");
        store.create_schema(&name, &std::fs::read_to_string(schema).unwrap(), None).unwrap();
        store.create_dataset("g", ty, &name, &name).unwrap();
        store.dataset("g", ty).unwrap().import(&ImportRequest { job_name: "j".into(), data_location: csv.display().to_string(), mode: ImportMode::Full }, &NoProgress).unwrap();
    }
    eprintln!("setup {:?}", t.elapsed());
    for (name, recipe, hp) in [("auto", Recipe::PersonalizedRanking, "auto"), ("ials", Recipe::PersonalizedRanking, "ials"), ("ease", Recipe::PersonalizedRanking, "ease"), ("sims", Recipe::SimilarItems, ""), ("pop", Recipe::PopularityCount, "")] {
        let mut config = SolutionConfig::default();
        if !hp.is_empty() { config.algorithm_hyper_parameters.insert("algorithm".into(), hp.into()); }
        store.create_solution(name, "g", recipe, None, config).unwrap();
        let t = Instant::now();
        let v = create_solution_version(&store, name, &TrainOptions::default(), &NoProgress, &AtomicBool::new(false)).unwrap();
        let m = store.solution_metrics(&v.solution_version_arn).unwrap();
        eprintln!("{name}: {:?} ndcg10 {:.4}", t.elapsed(), m["normalized_discounted_cumulative_gain_at_10"]);
    }
}
