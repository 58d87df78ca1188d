//! `attune dataset describe`: what a dataset group holds.

use anyhow::{Context, Result};
use attune::DatasetType;
use clap::Args;
use serde_json::json;

use super::DataDirArg;

#[derive(Debug, Args)]
pub(crate) struct DescribeArgs {
    #[command(flatten)]
    data: DataDirArg,
    /// The dataset group.
    #[arg(long)]
    dataset_group: String,
    /// Print JSON (the group, each dataset with its bulk row count and import jobs, and the
    /// insights) instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &DescribeArgs) -> Result<()> {
    let store = args.data.open_existing()?;
    let group = store.dataset_group(&args.dataset_group)?;
    let mut datasets = Vec::new();
    for info in store.list_datasets(&group.name)? {
        let dataset_type = DatasetType::parse(&info.dataset_type).with_context(|| {
            format!("unknown dataset type {:?} in the store", info.dataset_type)
        })?;
        let dataset = store.dataset(&group.name, dataset_type)?;
        datasets.push((dataset.bulk_rows()?, dataset.import_jobs()?, info));
    }
    let insights =
        attune::insights::dataset_group_insights(&store, &group.name).with_context(|| {
            format!(
                "cannot compute the insights of dataset group {}",
                group.name
            )
        })?;

    if args.json {
        let datasets: Vec<_> = datasets
            .iter()
            .map(|(bulk_rows, jobs, info)| {
                json!({
                    "datasetType": info.dataset_type,
                    "dataset": info,
                    "bulkRows": bulk_rows,
                    "importJobs": jobs,
                })
            })
            .collect();
        let doc = json!({
            "datasetGroup": group,
            "datasets": datasets,
            "insights": insights,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }

    println!(
        "dataset group {} ({}, {})",
        group.name,
        group.domain.as_deref().unwrap_or("custom"),
        group.dataset_group_arn
    );
    if datasets.is_empty() {
        println!("  no datasets");
    }
    for (bulk_rows, jobs, info) in &datasets {
        println!(
            "  {:<13} {bulk_rows:>10} bulk rows  schema {}",
            info.dataset_type, info.schema_arn
        );
        for job in jobs {
            let outcome = match &job.failure_reason {
                Some(reason) => format!("{}: {reason}", job.status),
                None => format!("{}, {} rows", job.status, job.rows_imported),
            };
            println!(
                "      job {} ({}) {outcome}",
                job.job_name,
                job.import_mode.as_str()
            );
        }
    }
    println!();
    print!("{insights}");
    Ok(())
}
