//! `attune generate`: the deterministic synthetic dataset, as CSV files and schemas.

use std::path::PathBuf;

use anyhow::{Context, Result};
use attune::generate::{GenerateConfig, Generated};
use clap::Args;

use super::progress::{Bar, Unit};

/// The generator's size and seed options, shared with `quickstart`.
#[derive(Debug, Clone, Args)]
pub(crate) struct SizeArgs {
    /// Number of users [default: the generator's].
    #[arg(long)]
    users: Option<u32>,
    /// Number of items [default: the generator's].
    #[arg(long)]
    items: Option<u32>,
    /// Number of interactions [default: the generator's].
    #[arg(long)]
    interactions: Option<u64>,
    /// Random seed; the same seed and sizes give the same files [default: the generator's].
    #[arg(long)]
    seed: Option<u64>,
}

impl SizeArgs {
    pub(crate) fn config(&self) -> GenerateConfig {
        let default = GenerateConfig::default();
        GenerateConfig {
            users: self.users.unwrap_or(default.users),
            items: self.items.unwrap_or(default.items),
            interactions: self.interactions.unwrap_or(default.interactions),
            seed: self.seed.unwrap_or(default.seed),
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    #[command(flatten)]
    size: SizeArgs,
    /// The folder to write into (created when missing).
    #[arg(long)]
    out: PathBuf,
}

pub(crate) fn run(args: &GenerateArgs) -> Result<()> {
    let config = args.size.config();
    let generated = generate(&config, &args.out)?;
    println!(
        "generated {} interactions, {} items and {} users (seed {}) into {}",
        generated.interactions,
        generated.items,
        generated.users,
        config.seed,
        generated.dir.display()
    );
    for (what, csv, schema) in [
        (
            "Interactions",
            &generated.interactions_csv,
            &generated.interactions_schema,
        ),
        ("Items", &generated.items_csv, &generated.items_schema),
        ("Users", &generated.users_csv, &generated.users_schema),
    ] {
        println!(
            "  {what:<13} {}  schema {}",
            csv.display(),
            schema.display()
        );
    }
    Ok(())
}

/// Runs the generator with a progress bar.
pub(crate) fn generate(config: &GenerateConfig, out: &std::path::Path) -> Result<Generated> {
    let bar = Bar::new(Unit::Records);
    let result = attune::generate::generate(config, out, &bar);
    attune::progress::Progress::finish(&bar);
    result.with_context(|| format!("cannot generate synthetic data into {}", out.display()))
}
