//! The `attune` commands: argument definitions (clap derive) and one module per command.
//!
//! Commands print results on stdout and progress bars on stderr (only when stderr is a
//! terminal). Errors travel as `anyhow::Error` up to [`report_error`], which prints them as one
//! `error: ...` line, followed by the first row errors of a failed import.

mod deploy;
mod describe;
mod generate;
mod import;
mod progress;
mod quickstart;
mod serve;
mod train;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use attune::{DatasetType, Domain, ImportMode, Store};
use clap::{Args, Parser, Subcommand};

/// How many row errors of a failed import are listed under the error line.
const LISTED_ROW_ERRORS: usize = 10;

/// Attune: a self-hosted personalization engine (an open re-implementation of Amazon
/// Personalize): import data, train, serve.
#[derive(Debug, Parser)]
#[command(name = "attune", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a synthetic, deterministic dataset (interactions, items, users CSV files and
    /// their schemas) into a folder.
    Generate(generate::GenerateArgs),
    /// Import a CSV file, a folder of CSV files or an Avro file into a dataset, creating the
    /// dataset group, schema and dataset when they are missing.
    Import(import::ImportArgs),
    /// Inspect datasets.
    Dataset {
        #[command(subcommand)]
        command: DatasetCommand,
    },
    /// Generate synthetic data, import it into the dataset group `quickstart` and train both
    /// recipes on it.
    Quickstart(quickstart::QuickstartArgs),
    /// Train a new solution version (creating the solution when missing) and print its metrics.
    Train(train::TrainArgs),
    /// Score a solution on a split (or write the split), Personalize's offline evaluation.
    Evaluate(train::EvaluateArgs),
    /// Rank items for a user, top items for a user, or similar items, from a solution version.
    Recommend(train::RecommendArgs),
    /// Create or update a campaign (a deployed solution version); a running server picks it
    /// up on its next reload.
    Deploy(deploy::DeployArgs),
    /// Serve the Personalize-compatible HTTP APIs (control plane, runtime, events) until
    /// SIGTERM or Ctrl-C.
    Serve(serve::ServeArgs),
}

#[derive(Debug, Subcommand)]
enum DatasetCommand {
    /// Record counts, import jobs and data insights of a dataset group.
    Describe(describe::DescribeArgs),
}

/// The data directory option shared by every command that touches the store.
#[derive(Debug, Clone, Args)]
pub(crate) struct DataDirArg {
    /// The data directory (the store); created when missing.
    #[arg(long, env = "ATTUNE_DATA_DIR", default_value = "attune-data")]
    pub data_dir: PathBuf,
}

impl DataDirArg {
    /// Opens the store, creating it when the directory is missing.
    pub fn open(&self) -> Result<Store> {
        Store::open(&self.data_dir)
            .with_context(|| format!("cannot open the data directory {}", self.data_dir.display()))
    }

    /// Opens a store that must already exist (for read-only commands).
    pub fn open_existing(&self) -> Result<Store> {
        if !self.data_dir.is_dir() {
            bail!(
                "the data directory {} does not exist (pass --data-dir or set ATTUNE_DATA_DIR)",
                self.data_dir.display()
            );
        }
        self.open()
    }
}

/// Runs one parsed command line.
pub(crate) fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Generate(args) => generate::run(&args),
        Command::Import(args) => import::run(&args),
        Command::Dataset {
            command: DatasetCommand::Describe(args),
        } => describe::run(&args),
        Command::Quickstart(args) => quickstart::run(&args),
        Command::Train(args) => train::run_train(&args),
        Command::Evaluate(args) => train::run_evaluate(&args),
        Command::Recommend(args) => train::run_recommend(&args),
        Command::Deploy(args) => deploy::run(&args),
        Command::Serve(args) => serve::run(&args),
    }
}

/// Prints an error: one `error: ...` line with the whole cause chain, then, for a failed
/// import, its first row errors and where the full report is.
pub(crate) fn report_error(err: &anyhow::Error) {
    eprintln!("error: {err:#}");
    let failure = err
        .chain()
        .find_map(|e| match e.downcast_ref::<attune::Error>() {
            Some(attune::Error::Import(failure)) => Some(failure),
            _ => None,
        });
    if let Some(failure) = failure {
        if failure.row_errors.len() > 1 {
            eprintln!("first row errors:");
            for row in failure.row_errors.iter().take(LISTED_ROW_ERRORS) {
                eprintln!("  {row}");
            }
            let more = failure.bad_rows.saturating_sub(LISTED_ROW_ERRORS as u64);
            if more > 0 {
                eprintln!("  ... and {more} more");
            }
        }
    }
    if let Some(job) = err.downcast_ref::<import::JobContext>() {
        if job.report.is_file() {
            eprintln!("row error report: {}", job.report.display());
        }
    }
}

fn parse_dataset_type(s: &str) -> Result<DatasetType, String> {
    DatasetType::parse(s).ok_or_else(|| {
        format!("{s:?} is not a dataset type: use Interactions, Users, Items, Actions or Action_Interactions")
    })
}

fn parse_mode(s: &str) -> Result<ImportMode, String> {
    ImportMode::parse(s)
        .ok_or_else(|| format!("{s:?} is not an import mode: use FULL or INCREMENTAL"))
}

fn parse_domain(s: &str) -> Result<Domain, String> {
    Domain::parse(&s.to_ascii_uppercase())
        .ok_or_else(|| format!("{s:?} is not a domain: use ECOMMERCE or VIDEO_ON_DEMAND"))
}

/// `path` made absolute (without resolving links), for messages and job records.
fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("cannot resolve the path {}", path.display()))
}
