//! `attune import`: one dataset import job, creating the dataset group, schema and dataset on
//! the way when they are missing.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use attune::import::ImportRequest;
use attune::store::ImportJobInfo;
use attune::{Dataset, DatasetType, Domain, ImportMode, Schema, Store};
use clap::Args;

use super::progress::{Bar, Unit};
use super::{absolute, parse_dataset_type, parse_domain, parse_mode, DataDirArg};

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    #[command(flatten)]
    data: DataDirArg,
    /// The dataset group (created when missing).
    #[arg(long)]
    dataset_group: String,
    /// Interactions, Users or Items (also Actions, Action_Interactions).
    #[arg(long, value_parser = parse_dataset_type)]
    dataset_type: DatasetType,
    /// The schema document (Avro JSON, `.avsc`) of the dataset.
    #[arg(long)]
    schema: PathBuf,
    /// The name to store the schema under [default: <group>-<type>].
    #[arg(long)]
    schema_name: Option<String>,
    /// A CSV file, an Avro object container file, or a folder whose first-level .csv files are
    /// read in name order.
    #[arg(long)]
    file: PathBuf,
    /// FULL replaces the dataset's bulk records, INCREMENTAL appends to them.
    #[arg(long, default_value = "FULL", value_parser = parse_mode)]
    mode: ImportMode,
    /// The import job's name [default: import-<type>-<unix time>].
    #[arg(long)]
    job_name: Option<String>,
    /// The domain of a new dataset group: ECOMMERCE or VIDEO_ON_DEMAND [default: custom].
    #[arg(long, value_parser = parse_domain)]
    domain: Option<Domain>,
}

pub(crate) fn run(args: &ImportArgs) -> Result<()> {
    let schema_json = std::fs::read_to_string(&args.schema)
        .with_context(|| format!("cannot read the schema file {}", args.schema.display()))?;
    let store = args.data.open()?;
    let schema_name = match &args.schema_name {
        Some(name) => name.clone(),
        None => default_schema_name(&args.dataset_group, args.dataset_type),
    };
    let dataset = ensure_dataset(
        &store,
        &args.dataset_group,
        args.domain,
        args.dataset_type,
        &schema_json,
        &args.schema.display().to_string(),
        &schema_name,
    )?;
    let job_name = match &args.job_name {
        Some(name) => name.clone(),
        None => dataset.unused_job_name()?,
    };
    let started = Instant::now();
    let job = run_job(&dataset, &args.file, args.mode, &job_name)?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "imported {} rows into the {} dataset of group {} (job {}, {}, {:.1} s, {:.0} rows/s)",
        job.rows_imported,
        dataset.dataset_type(),
        dataset.group(),
        job.job_name,
        job.import_mode.as_str(),
        secs,
        job.rows_imported as f64 / secs.max(1e-9),
    );
    println!(
        "the dataset now holds {} bulk rows",
        dataset.bulk_rows().context("cannot count the bulk rows")?
    );
    Ok(())
}

/// `<group>-<type>`, the schema name `import` and `quickstart` use by default.
pub(crate) fn default_schema_name(group: &str, dataset_type: DatasetType) -> String {
    format!("{group}-{dataset_type}")
}

/// Returns the dataset of `dataset_type` in `group`, creating the group (with `domain`), the
/// schema (`schema_name`, from `schema_json`) and the dataset when they are missing. An
/// existing dataset must have the same schema document; an existing schema of that name too.
pub(crate) fn ensure_dataset(
    store: &Store,
    group: &str,
    domain: Option<Domain>,
    dataset_type: DatasetType,
    schema_json: &str,
    schema_label: &str,
    schema_name: &str,
) -> Result<Dataset> {
    // Look everything up and validate the schema before creating anything.
    let existing_group = match store.dataset_group(group) {
        Ok(info) => Some(info),
        Err(attune::Error::NotFound { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let domain = match &existing_group {
        Some(info) => {
            let group_domain = info.domain.as_deref().and_then(Domain::parse);
            if domain.is_some() && domain != group_domain {
                bail!(
                    "dataset group {group} exists with domain {}, not {}",
                    group_domain.map_or("(none: custom)", Domain::as_str),
                    domain.map_or("(none: custom)", Domain::as_str)
                );
            }
            group_domain
        }
        None => domain,
    };
    let schema =
        Schema::parse(schema_json, domain).with_context(|| format!("schema {schema_label}"))?;
    if schema.dataset_type() != dataset_type {
        bail!(
            "schema {schema_label} is for the {} dataset type (its record name), not {dataset_type}",
            schema.dataset_type()
        );
    }
    if existing_group.is_none() {
        store.create_dataset_group(group, domain)?;
    }
    match store.dataset(group, dataset_type) {
        Ok(dataset) => {
            if !same_json(dataset.schema().json(), schema_json) {
                bail!(
                    "the {dataset_type} dataset of group {group} already exists with a different \
                     schema ({}); import data that matches it, or use another dataset group",
                    dataset.info().schema_arn
                );
            }
            return Ok(dataset);
        }
        Err(attune::Error::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    match store.schema(schema_name) {
        Ok(existing) if same_json(&existing.schema, schema_json) => {}
        Ok(_) => bail!(
            "schema {schema_name} already exists with a different document; choose another name \
             with --schema-name"
        ),
        Err(attune::Error::NotFound { .. }) => {
            store.create_schema(schema_name, schema_json, domain)?;
        }
        Err(e) => return Err(e.into()),
    }
    store.create_dataset(
        group,
        dataset_type,
        &default_schema_name(group, dataset_type),
        schema_name,
    )?;
    Ok(store.dataset(group, dataset_type)?)
}

/// Whether two JSON documents are equal as JSON values (whitespace and key order aside).
fn same_json(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Which import job failed, attached to the error so [`super::report_error`] can point at the
/// job's row error report.
#[derive(Debug)]
pub(crate) struct JobContext {
    job: String,
    dataset_type: DatasetType,
    group: String,
    /// The row error report the store writes next to the job.
    pub report: PathBuf,
}

impl fmt::Display for JobContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "import job {} into the {} dataset of group {}",
            self.job, self.dataset_type, self.group
        )
    }
}

/// Runs one import job with a progress bar; returns the ACTIVE job.
pub(crate) fn run_job(
    dataset: &Dataset,
    file: &Path,
    mode: ImportMode,
    job_name: &str,
) -> Result<ImportJobInfo> {
    let location = absolute(file)?.display().to_string();
    let bar = Bar::new(Unit::Bytes);
    let request = ImportRequest {
        job_name: job_name.to_owned(),
        data_location: location,
        mode,
    };
    let result = dataset.import(&request, &bar);
    attune::progress::Progress::finish(&bar);
    result.with_context(|| JobContext {
        job: job_name.to_owned(),
        dataset_type: dataset.dataset_type(),
        group: dataset.group().to_owned(),
        report: dataset
            .dir()
            .join("import-jobs")
            .join(format!("{job_name}.errors.txt")),
    })
}
