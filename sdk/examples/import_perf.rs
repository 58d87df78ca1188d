//! Times one FULL import: `cargo run --release -p attune --example import_perf -- SCHEMA CSV`.
use attune::import::{ImportRequest, NoProgress};
use attune::{DatasetType, ImportMode, Store};

fn main() -> attune::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("d"))?;
    store.create_schema("s", &std::fs::read_to_string(&args[1]).unwrap(), None)?;
    store.create_dataset_group("g", None)?;
    store.create_dataset("g", DatasetType::Interactions, "i", "s")?;
    let ds = store.dataset("g", DatasetType::Interactions)?;
    let t = std::time::Instant::now();
    let job = ds.import(
        &ImportRequest {
            job_name: "j".into(),
            data_location: args[2].clone(),
            mode: ImportMode::Full,
        },
        &NoProgress,
    )?;
    let secs = t.elapsed().as_secs_f64();
    let bytes: u64 = ds
        .segments()?
        .iter()
        .map(|s| {
            std::fs::metadata(ds.dir().join("bulk").join(&s.file))
                .unwrap()
                .len()
        })
        .sum();
    println!(
        "{} rows in {secs:.2}s = {:.0} rows/s; {:.1} bytes/row",
        job.rows_imported,
        job.rows_imported as f64 / secs,
        bytes as f64 / job.rows_imported as f64
    );
    Ok(())
}
