//! Bulk import throughput: a synthetic 1M-interaction CSV imported FULL into a fresh store,
//! including CSV parsing, validation and Avro encoding. Also prints the store's bytes per
//! interaction. Run: `cargo bench -p benches --bench import`.

use std::time::Duration;

use attune::import::{ImportRequest, NoProgress};
use attune::{DatasetType, ImportMode};
use benches::{fresh_store, synthetic};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const ROWS: u64 = 1_000_000;

fn import_csv(c: &mut Criterion) {
    let data = tempfile::tempdir().expect("tempdir");
    let generated = synthetic(data.path(), ROWS);
    let mut group = c.benchmark_group("import");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(30))
        .throughput(Throughput::Elements(generated.interactions));
    let mut bytes_per_row = 0.0;
    group.bench_function("interactions_csv_1m_full", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("tempdir");
                let store = fresh_store(
                    &dir.path().join("store"),
                    DatasetType::Interactions,
                    &generated.interactions_schema,
                );
                (dir, store)
            },
            |(dir, store)| {
                let ds = store
                    .dataset("g", DatasetType::Interactions)
                    .expect("dataset");
                let job = ds
                    .import(
                        &ImportRequest {
                            job_name: "bench".into(),
                            data_location: generated.interactions_csv.display().to_string(),
                            mode: ImportMode::Full,
                        },
                        &NoProgress,
                    )
                    .expect("import");
                let bytes: u64 = ds
                    .segments()
                    .expect("segments")
                    .iter()
                    .map(|s| {
                        std::fs::metadata(ds.dir().join("bulk").join(&s.file))
                            .map(|m| m.len())
                            .unwrap_or(0)
                    })
                    .sum();
                bytes_per_row = bytes as f64 / job.rows_imported as f64;
                dir
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
    println!("store: {bytes_per_row:.1} bytes per interaction (Avro segment, snappy)");
}

criterion_group!(benches, import_csv);
criterion_main!(benches);
