//! `attune train`, `attune evaluate` and `attune recommend`: solutions, solution versions and
//! in-process inference from a version's model.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::{bail, Context, Result};
use attune::model::{Model, Recipe};
use attune::store::solutions::{SolutionConfig, SolutionVersionInfo};
use attune::train::{self, TrainOptions};
use attune::Store;
use clap::Args;

use super::progress::{Bar, Unit};
use super::DataDirArg;

/// Set by Ctrl-C; training checks it between iterations.
fn cancel_flag() -> &'static Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        // A second Ctrl-C while stopping falls through to the default: the process exits.
        let _ = ctrlc::set_handler(move || {
            if f.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("\nstopping after the current step (Ctrl-C again to quit at once)");
        });
        flag
    })
}

#[derive(Debug, Args)]
pub(crate) struct TrainArgs {
    #[command(flatten)]
    data: DataDirArg,
    /// The dataset group to train on.
    #[arg(long)]
    dataset_group: String,
    /// The solution's name; created when missing (with the recipe and settings given here).
    #[arg(long)]
    solution: String,
    /// attune-personalized-ranking (aws-personalized-ranking), attune-similar-items
    /// (aws-similar-items, aws-sims) or attune-popularity-count (aws-popularity-count).
    #[arg(long, default_value = "attune-personalized-ranking")]
    recipe: String,
    /// Train only on events of this type.
    #[arg(long)]
    event_type: Option<String>,
    /// With --event-type: only events whose EVENT_VALUE is at least this.
    #[arg(long)]
    event_value_threshold: Option<String>,
    /// A hyperparameter, KEY=VALUE (repeatable), e.g. --hp factors=128 --hp iterations=20.
    #[arg(long = "hp", value_parser = parse_key_value)]
    hyperparameters: Vec<(String, String)>,
    /// Skip the offline evaluation (no metrics; faster).
    #[arg(long)]
    no_evaluate: bool,
    /// Hyperparameter optimization (performHPO): a JSON file holding Personalize's hpoConfig
    /// (algorithmHyperParameterRanges, hpoObjective, hpoResourceConfig).
    #[arg(long, value_name = "FILE")]
    hpo_config: Option<PathBuf>,
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))?;
    Ok((k.trim().to_owned(), v.trim().to_owned()))
}

/// Creates the solution when missing; an existing one must have the same settings.
pub(crate) fn ensure_solution(
    store: &Store,
    name: &str,
    group: &str,
    recipe: Recipe,
    event_type: Option<String>,
    config: SolutionConfig,
) -> Result<()> {
    match store.solution(name) {
        Ok(existing) => {
            let same = existing.recipe().ok() == Some(recipe)
                && existing.event_type == event_type
                && existing.solution_config == config
                && existing.dataset_group() == group;
            if !same {
                bail!(
                    "solution {name} exists with other settings (recipe {}, dataset group {}); \
                     solutions cannot change: choose another --solution name",
                    existing.recipe_arn,
                    existing.dataset_group()
                );
            }
            Ok(())
        }
        Err(attune::Error::NotFound { .. }) => {
            train::create_solution(store, name, group, recipe, event_type, config)?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Trains one version of a solution (with a progress bar; Ctrl-C stops it cleanly).
pub(crate) fn create_version(
    store: &Store,
    solution: &str,
    evaluate: bool,
) -> Result<SolutionVersionInfo> {
    let bar = Bar::new(Unit::Records);
    let options = TrainOptions {
        evaluate,
        ..TrainOptions::default()
    };
    train::create_solution_version(store, solution, &options, &bar, cancel_flag())
        .with_context(|| format!("training solution {solution} failed"))
}

/// Trains one version and prints it with its metrics; returns the version ARN.
pub(crate) fn train_version(store: &Store, solution: &str, evaluate: bool) -> Result<String> {
    let version = create_version(store, solution, evaluate)?;
    let metrics = store.solution_metrics(&version.solution_version_arn)?;
    let model = store.load_model(&version.solution_version_arn)?;
    let out = serde_json::json!({
        "solutionVersionArn": version.solution_version_arn,
        "status": version.status,
        "recipe": model.recipe().name(),
        "algorithm": model.header.algorithm,
        "hyperparameters": model.header.hyperparameters,
        "tunedHPOParams": version.tuned_hpo_params,
        "trainingSeconds": (version.training_hours * 3600.0 * 10.0).round() / 10.0,
        "metrics": metrics,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(version.solution_version_arn)
}

pub(crate) fn run_train(args: &TrainArgs) -> Result<()> {
    let store = args.data.open_existing()?;
    let recipe = Recipe::parse(&args.recipe).with_context(|| {
        format!(
            "unknown recipe {:?}: use attune-personalized-ranking, attune-similar-items or \
             attune-popularity-count (or their aws-* aliases)",
            args.recipe
        )
    })?;
    let config =
        SolutionConfig {
            algorithm_hyper_parameters: args
                .hyperparameters
                .iter()
                .cloned()
                .collect::<BTreeMap<_, _>>(),
            event_value_threshold: args.event_value_threshold.clone(),
            perform_hpo: args.hpo_config.is_some(),
            hpo_config: match &args.hpo_config {
                Some(path) => {
                    let bytes = std::fs::read(path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    Some(serde_json::from_slice(&bytes).with_context(|| {
                        format!("{} is not an hpoConfig document", path.display())
                    })?)
                }
                None => None,
            },
        };
    ensure_solution(
        &store,
        &args.solution,
        &args.dataset_group,
        recipe,
        args.event_type.clone(),
        config,
    )?;
    train_version(&store, &args.solution, !args.no_evaluate)?;
    Ok(())
}

/// A version ARN or `SOLUTION/ID` as given; a bare solution name means its newest ACTIVE
/// version.
fn resolve_version(store: &Store, version: &str) -> Result<String> {
    if version.contains('/') {
        return Ok(version.to_owned());
    }
    Ok(store.latest_solution_version(version)?.solution_version_arn)
}

#[derive(Debug, Args)]
pub(crate) struct EvaluateArgs {
    #[command(flatten)]
    data: DataDirArg,
    /// Train this solution's recipe on the split's training users and score its test users.
    #[arg(long, conflicts_with = "solution_version")]
    solution: Option<String>,
    /// Score an existing version (ARN, SOLUTION/ID, or a solution name for its newest version)
    /// on the split's test users (its training should not have seen them); without --split,
    /// print its metrics.
    #[arg(long)]
    solution_version: Option<String>,
    /// A split file (JSON: {"trainUsers": [...], "testUsers": [{"userId", "input", "truth"}]}).
    #[arg(long)]
    split: Option<PathBuf>,
    /// Write the Personalize split of the solution's dataset group to this file and exit (with
    /// --folds N, N files NAME.0.json ... NAME.{N-1}.json of disjoint test users).
    #[arg(long, conflicts_with = "split")]
    write_split: Option<PathBuf>,
    /// With --write-split: cut the users into this many disjoint test folds.
    #[arg(long, default_value_t = 1)]
    folds: usize,
}

pub(crate) fn run_evaluate(args: &EvaluateArgs) -> Result<()> {
    let store = args.data.open_existing()?;
    let bar = Bar::new(Unit::Records);
    let options = TrainOptions::default();
    if let Some(out) = &args.write_split {
        let solution = args
            .solution
            .as_deref()
            .context("--write-split needs --solution (its dataset group and event filter)")?;
        let splits = train::export_splits(&store, solution, args.folds.max(1))?;
        let paths = split_paths(out, splits.len());
        for (split, path) in splits.iter().zip(&paths) {
            std::fs::write(path, serde_json::to_vec_pretty(split)?)
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!(
                "wrote {} ({} test users, {} training users)",
                path.display(),
                split.test_users.len(),
                split.train_users.len()
            );
        }
        return Ok(());
    }
    let split = match &args.split {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            Some(
                serde_json::from_slice::<train::SplitFile>(&bytes)
                    .with_context(|| format!("{} is not a split file", path.display()))?,
            )
        }
        None => None,
    };
    let metrics = match (&args.solution, &args.solution_version, split) {
        (Some(solution), None, Some(split)) => train::evaluate_solution_on_split(
            &store,
            solution,
            &split,
            &options,
            &bar,
            cancel_flag(),
        )?,
        (None, Some(version), Some(split)) => {
            let model = store.load_model(&resolve_version(&store, version)?)?;
            train::evaluate_model_on_split(&model, &split, options.threads)
        }
        (None, Some(version), None) => {
            store.solution_metrics(&resolve_version(&store, version)?)?
        }
        _ => bail!(
            "give --solution with --split (train and score on the split), or --solution-version \
             [with --split], or --solution with --write-split"
        ),
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({ "metrics": metrics }))?
    );
    Ok(())
}

fn split_paths(out: &std::path::Path, n: usize) -> Vec<PathBuf> {
    if n == 1 {
        return vec![out.to_owned()];
    }
    let stem = out.with_extension("");
    (0..n)
        .map(|k| PathBuf::from(format!("{}.{k}.json", stem.display())))
        .collect()
}

#[derive(Debug, Args)]
pub(crate) struct RecommendArgs {
    #[command(flatten)]
    data: DataDirArg,
    /// The solution version (ARN, or SOLUTION/ID), or a solution name for its newest version.
    #[arg(long)]
    solution_version: String,
    /// Rank --items for this user (GetPersonalizedRanking), or top --num-results for them.
    #[arg(long)]
    user: Option<String>,
    /// Comma-separated item ids to rank for --user.
    #[arg(long, value_delimiter = ',')]
    items: Vec<String>,
    /// Similar items for this item (GetRecommendations with itemId).
    #[arg(long, conflicts_with = "user")]
    item: Option<String>,
    /// Recent events of the user not yet trained on, ITEM[:EVENT_TYPE] (repeatable).
    #[arg(long = "event")]
    events: Vec<String>,
    /// How many items to return.
    #[arg(long, default_value_t = 25)]
    num_results: usize,
}

pub(crate) fn run_recommend(args: &RecommendArgs) -> Result<()> {
    let store = args.data.open_existing()?;
    let model: Model = store.load_model(&resolve_version(&store, &args.solution_version)?)?;
    let recent: Vec<(&str, f32)> = args
        .events
        .iter()
        .map(|e| match e.split_once(':') {
            Some((item, t)) => (item, model.event_weight(t)),
            None => (e.as_str(), model.header.default_event_weight),
        })
        .collect();
    let out = match (&args.user, &args.item) {
        (Some(user), None) if !args.items.is_empty() => {
            if args.items.len() > attune::model::MAX_INPUT_ITEMS {
                bail!(
                    "--items has {} ids; at most {} can be ranked",
                    args.items.len(),
                    attune::model::MAX_INPUT_ITEMS
                );
            }
            let input: Vec<&str> = args.items.iter().map(String::as_str).collect();
            let ranked = model.rank(user, &recent, &input);
            let list: Vec<_> = ranked
                .iter()
                .map(|r| match r.score {
                    Some(s) => serde_json::json!({"itemId": input[r.input_index], "score": s}),
                    None => serde_json::json!({"itemId": input[r.input_index]}),
                })
                .collect();
            serde_json::json!({ "personalizedRanking": list })
        }
        (Some(user), None) => {
            let list: Vec<_> = model
                .top_n(user, &recent, args.num_results)
                .into_iter()
                .map(|(i, _)| serde_json::json!({"itemId": model.item_id(i)}))
                .collect();
            serde_json::json!({ "itemList": list })
        }
        (None, Some(item)) => {
            let list: Vec<_> = model
                .similar(item, args.num_results)
                .into_iter()
                .map(|i| serde_json::json!({"itemId": model.item_id(i)}))
                .collect();
            serde_json::json!({ "itemList": list })
        }
        _ => bail!("give --user (with --items to rank them) or --item"),
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
