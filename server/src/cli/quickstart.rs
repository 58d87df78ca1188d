//! `attune quickstart`: synthetic data imported into the dataset group `quickstart`, in one
//! command. Reruns generate the same files again and replace the bulk data with FULL imports
//! under fresh job names.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use attune::{DatasetType, ImportMode};
use clap::Args;

use super::generate::SizeArgs;
use super::import::{default_schema_name, ensure_dataset, fresh_job_name, run_job};
use super::{absolute, DataDirArg};

/// The dataset group quickstart fills.
const GROUP: &str = "quickstart";

#[derive(Debug, Args)]
pub(crate) struct QuickstartArgs {
    #[command(flatten)]
    data: DataDirArg,
    #[command(flatten)]
    size: SizeArgs,
    /// Where the generated CSV files go [default: `quickstart-data` next to the data directory].
    #[arg(long)]
    input_dir: Option<PathBuf>,
}

pub(crate) fn run(args: &QuickstartArgs) -> Result<()> {
    let started = Instant::now();
    let data_dir = absolute(&args.data.data_dir)?;
    let input_dir = match &args.input_dir {
        Some(dir) => absolute(dir)?,
        None => data_dir
            .parent()
            .unwrap_or(Path::new("/"))
            .join("quickstart-data"),
    };
    let config = args.size.config();
    let generated = super::generate::generate(&config, &input_dir)?;
    println!(
        "generated {} interactions, {} items and {} users (seed {}) into {}",
        generated.interactions,
        generated.items,
        generated.users,
        config.seed,
        generated.dir.display()
    );

    let store = args.data.open()?;
    let inputs = [
        (
            DatasetType::Interactions,
            &generated.interactions_csv,
            &generated.interactions_schema,
        ),
        (
            DatasetType::Items,
            &generated.items_csv,
            &generated.items_schema,
        ),
        (
            DatasetType::Users,
            &generated.users_csv,
            &generated.users_schema,
        ),
    ];
    for (dataset_type, csv, schema_path) in inputs {
        let schema_json = std::fs::read_to_string(schema_path)
            .with_context(|| format!("cannot read the schema file {}", schema_path.display()))?;
        let dataset = ensure_dataset(
            &store,
            GROUP,
            None,
            dataset_type,
            &schema_json,
            &schema_path.display().to_string(),
            &default_schema_name(GROUP, dataset_type),
        )?;
        let job_name = fresh_job_name(&dataset)?;
        let job = run_job(&dataset, csv, ImportMode::Full, &job_name)?;
        println!(
            "imported {:>8} rows into {dataset_type:<12} (job {})",
            job.rows_imported, job.job_name
        );
    }

    let data = data_dir.display();
    println!(
        "\ndataset group {GROUP} is ready in {data} ({:.1} s)\n\nnext steps:\n  \
         attune dataset describe --data-dir {data} --dataset-group {GROUP}\n  \
         attune import --data-dir {data} --dataset-group {GROUP} --dataset-type Interactions \
         --schema {} --file <more.csv> --mode INCREMENTAL",
        started.elapsed().as_secs_f64(),
        generated.interactions_schema.display()
    );
    Ok(())
}
