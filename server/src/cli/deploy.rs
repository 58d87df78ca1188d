//! `attune deploy`: creates or updates a campaign in the store. A running server picks the
//! change up on its next periodic reconcile and swaps the model without failing requests.

use std::io::Write;

use anyhow::{bail, Context, Result};
use attune::store::campaigns::{CampaignConfig, LATEST};
use attune::Store;
use clap::Args;

use super::DataDirArg;

#[derive(Debug, Args)]
pub(crate) struct DeployArgs {
    #[command(flatten)]
    data: DataDirArg,
    /// The campaign's name; created when missing, updated otherwise.
    #[arg(long)]
    campaign: String,
    /// Deploy this solution version (its ARN).
    #[arg(long, conflicts_with_all = ["solution", "latest_sync"], required_unless_present = "solution")]
    solution_version: Option<String>,
    /// Deploy this solution's newest ACTIVE version (name or ARN).
    #[arg(long)]
    solution: Option<String>,
    /// With --solution: follow the solution's newest ACTIVE version from now on
    /// (`<solution ARN>/$LATEST` with syncWithLatestSolutionVersion).
    #[arg(long, requires = "solution")]
    latest_sync: bool,
    /// The campaign's minimum provisioned TPS (at least 1) [default: 1, or the campaign's].
    #[arg(long)]
    min_provisioned_tps: Option<u32>,
}

/// The version ARN to deploy and whether the campaign follows the newest version.
fn target(store: &Store, args: &DeployArgs) -> Result<(String, bool)> {
    if let Some(version) = &args.solution_version {
        let v = store
            .solution_version(version)
            .with_context(|| format!("cannot deploy the solution version {version}"))?;
        return Ok((v.solution_version_arn, false));
    }
    let Some(solution) = &args.solution else {
        bail!("give --solution-version ARN or --solution NAME");
    };
    let s = store
        .solution(solution)
        .with_context(|| format!("cannot deploy the solution {solution}"))?;
    if args.latest_sync {
        return Ok((format!("{}/{LATEST}", s.solution_arn), true));
    }
    let v = store.latest_solution_version(&s.name).with_context(|| {
        format!(
            "solution {} has no ACTIVE version to deploy; train one with `attune train`",
            s.name
        )
    })?;
    Ok((v.solution_version_arn, false))
}

pub(crate) fn run(args: &DeployArgs) -> Result<()> {
    let store = args.data.open_existing()?;
    let (version, sync) = target(&store, args)?;
    let info = match store.campaign(&args.campaign) {
        Ok(existing) => {
            let config = CampaignConfig {
                sync_with_latest_solution_version: sync,
                ..existing.campaign_config
            };
            store
                .update_campaign(
                    &args.campaign,
                    Some(version),
                    args.min_provisioned_tps,
                    Some(config),
                )
                .with_context(|| format!("cannot update the campaign {}", args.campaign))?
        }
        Err(attune::Error::NotFound { .. }) => {
            let config = CampaignConfig {
                sync_with_latest_solution_version: sync,
                ..CampaignConfig::default()
            };
            store
                .create_campaign(&args.campaign, &version, args.min_provisioned_tps, config)
                .with_context(|| format!("cannot create the campaign {}", args.campaign))?
        }
        Err(e) => return Err(e).context(format!("cannot read the campaign {}", args.campaign)),
    };
    let text = serde_json::to_string_pretty(&info)?;
    match writeln!(std::io::stdout().lock(), "{text}") {
        // A closed pipe (`attune deploy ... | head`) is not an error: the campaign is deployed.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to stdout"),
    }
}
