//! Shared helpers for the benchmarks: synthetic data made once per run and fresh stores.

use std::path::Path;

use attune::generate::{generate, GenerateConfig, Generated};
use attune::import::NoProgress;
use attune::{DatasetType, Store};

/// Generates a synthetic dataset with `interactions` rows into `dir` (deterministic, seed 7).
pub fn synthetic(dir: &Path, interactions: u64) -> Generated {
    let cfg = GenerateConfig {
        users: (interactions / 20).clamp(100, 1_000_000) as u32,
        items: (interactions / 50).clamp(100, 200_000) as u32,
        interactions,
        seed: 7,
    };
    generate(&cfg, dir, &NoProgress).expect("generate synthetic data")
}

/// A new store in `dir` with group `g` and an empty dataset of `dataset_type` using the schema
/// at `schema_path`.
pub fn fresh_store(dir: &Path, dataset_type: DatasetType, schema_path: &Path) -> Store {
    let store = Store::open(dir).expect("open store");
    let schema = std::fs::read_to_string(schema_path).expect("read schema");
    store
        .create_schema("s", &schema, None)
        .expect("create schema");
    store.create_dataset_group("g", None).expect("create group");
    store
        .create_dataset("g", dataset_type, "d", "s")
        .expect("create dataset");
    store
}
