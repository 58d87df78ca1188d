//! `attune quickstart`: synthetic data imported into the dataset group `quickstart`, then both
//! core recipes trained on it, in one command. Reruns generate the same files again, replace the
//! bulk data with FULL imports under fresh job names and train a new version of each solution.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use attune::model::{Model, Recipe};
use attune::store::solutions::{SolutionConfig, SolutionVersionInfo};
use attune::train::data::{self, DataConfig, TrainingData};
use attune::{DatasetType, ImportMode, Store};
use clap::Args;

use super::generate::SizeArgs;
use super::import::{default_schema_name, ensure_dataset, run_job};
use super::{absolute, train, DataDirArg};

/// The dataset group quickstart fills.
const GROUP: &str = "quickstart";
/// The Personalized-Ranking solution quickstart trains.
const RANKING: &str = "quickstart-ranking";
/// The Similar-Items solution quickstart trains.
const SIMILAR: &str = "quickstart-similar";
/// Items in the sample ranking and the sample similar-items list.
const SAMPLE: usize = 8;

#[derive(Debug, Args)]
pub(crate) struct QuickstartArgs {
    #[command(flatten)]
    data: DataDirArg,
    #[command(flatten)]
    size: SizeArgs,
    /// Where the generated CSV files go [default: `quickstart-data` next to the data directory].
    #[arg(long)]
    input_dir: Option<PathBuf>,
    /// After training and deploying, serve the campaigns (like `attune serve`) until Ctrl-C.
    #[arg(long)]
    serve: bool,
    /// With --serve: the address to listen on (default 127.0.0.1:8080).
    #[arg(long, requires = "serve")]
    listen: Option<String>,
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

    // The absolute path: a relative one-component path (the default `attune-data`) has an empty
    // parent, which the store cannot sync.
    let store = Store::open(&data_dir)
        .with_context(|| format!("cannot open the data directory {}", data_dir.display()))?;
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
        let job_name = dataset.unused_job_name()?;
        let job = run_job(&dataset, csv, ImportMode::Full, &job_name)?;
        println!(
            "imported {:>8} rows into {dataset_type:<12} (job {})",
            job.rows_imported, job.job_name
        );
    }
    println!(
        "dataset group {GROUP} is ready in {} ({:.1} s)\n",
        data_dir.display(),
        started.elapsed().as_secs_f64()
    );

    let mut trained = Vec::new();
    for (solution, recipe) in [
        (RANKING, Recipe::PersonalizedRanking),
        (SIMILAR, Recipe::SimilarItems),
    ] {
        train::ensure_solution(
            &store,
            solution,
            GROUP,
            recipe,
            None,
            SolutionConfig::default(),
        )?;
        let version = train::create_version(&store, solution, true)?;
        deploy(&store, solution, &version.solution_version_arn)?;
        let model = store.load_model(&version.solution_version_arn)?;
        let metrics = store.solution_metrics(&version.solution_version_arn)?;
        print_version(&version, &model, &metrics);
        trained.push(model);
    }
    let [ranking, similar] = <[Model; 2]>::try_from(trained)
        .map_err(|_| anyhow::anyhow!("quickstart trains exactly two solutions"))?;

    let data = data::load(&store, GROUP, &DataConfig::default())?;
    let sample = print_samples(&data, &ranking, &similar);

    let dir = data_dir.display();
    println!(
        "\ncampaigns {RANKING} and {SIMILAR} are deployed to the newest versions\n\
         \ndone in {:.1} s\n\nnext steps:\n  \
         attune serve --data-dir {dir}    (or rerun quickstart with --serve)\n  \
         attune recommend --data-dir {dir} --solution-version {RANKING} --user {} --items {}\n  \
         attune recommend --data-dir {dir} --solution-version {SIMILAR} --item {}\n  \
         attune train --data-dir {dir} --dataset-group {GROUP} --solution my-ranking \
         --hp algorithm=ials --hp factors=128\n  \
         attune dataset describe --data-dir {dir} --dataset-group {GROUP}\n  \
         attune import --data-dir {dir} --dataset-group {GROUP} --dataset-type Interactions \
         --schema {} --file <more.csv> --mode INCREMENTAL",
        started.elapsed().as_secs_f64(),
        sample.user,
        sample.items.join(","),
        sample.item,
        generated.interactions_schema.display()
    );
    if args.serve {
        return super::serve::run(&super::serve::ServeArgs::for_data_dir(
            data_dir.clone(),
            args.listen.clone(),
        ));
    }
    Ok(())
}

/// Points the campaign named after the solution at `version` (created on the first run).
fn deploy(store: &attune::Store, campaign: &str, version: &str) -> Result<()> {
    match store.campaign(campaign) {
        Ok(_) => {
            store.update_campaign(campaign, Some(version.to_owned()), None, None)?;
        }
        Err(attune::Error::NotFound { .. }) => {
            store.create_campaign(campaign, version, None, Default::default())?;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// One line per trained version: what it is, how long it took, its main metrics.
fn print_version(version: &SolutionVersionInfo, model: &Model, metrics: &BTreeMap<String, f64>) {
    let m = |key: &str| metrics.get(key).copied().unwrap_or(f64::NAN);
    println!(
        "trained {} ({}, {}) in {:.1} s\n  NDCG@10 {:.4}  MRR@25 {:.4}  precision@10 {:.4}  \
         coverage {:.4}",
        version.solution_version_arn,
        model.recipe().name(),
        model.header.algorithm,
        version.training_hours * 3600.0,
        m("normalized_discounted_cumulative_gain_at_10"),
        m("mean_reciprocal_rank_at_25"),
        m("precision_at_10"),
        m("coverage"),
    );
}

/// What the printed samples used, for the next-steps commands.
struct Sample {
    user: String,
    items: Vec<String>,
    item: String,
}

/// Prints a ranking of popular items for one user and the items similar to the top one, with
/// their genres so the personalization is visible.
fn print_samples(data: &TrainingData, ranking: &Model, similar: &Model) -> Sample {
    let index: HashMap<&str, usize> = data
        .items
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let genres = |item: &str| -> String {
        let tokens = index
            .get(item)
            .and_then(|&i| data.features.as_ref()?.categorical.get(i));
        let list: Vec<&str> = tokens
            .into_iter()
            .flatten()
            .filter_map(|t| t.strip_prefix("GENRES="))
            .collect();
        list.join("|")
    };

    // A user with a typical history: the first with 20-100 events, else the most active one.
    let histories = data.histories();
    let user = histories
        .iter()
        .position(|h| (20..=100).contains(&h.len()))
        .or_else(|| (0..histories.len()).max_by_key(|&u| histories[u].len()))
        .unwrap_or(0);
    let user_id = data.users.get(user).cloned().unwrap_or_default();
    let seen: Vec<&str> = histories
        .get(user)
        .into_iter()
        .flatten()
        .map(|&(_, i)| data.items[i as usize].as_str())
        .collect();
    let mut favourite: BTreeMap<String, usize> = BTreeMap::new();
    for item in &seen {
        for g in genres(item).split('|').filter(|g| !g.is_empty()) {
            *favourite.entry(g.to_owned()).or_default() += 1;
        }
    }
    let mut favourite: Vec<(String, usize)> = favourite.into_iter().collect();
    favourite.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let favourite: Vec<String> = favourite.into_iter().take(3).map(|(g, _)| g).collect();

    // The most popular items the user has not interacted with, as a search engine might return.
    let input: Vec<&str> = ranking
        .popular(ranking.items.len())
        .iter()
        .map(|&i| ranking.item_id(i))
        .filter(|id| !seen.contains(id))
        .take(SAMPLE)
        .collect();
    println!(
        "\nGetPersonalizedRanking of the {} most popular items for user {user_id} ({} events, \
         mostly {}):",
        input.len(),
        seen.len(),
        favourite.join(", ")
    );
    let ranked = ranking.rank(&user_id, &[], &input);
    for (k, r) in ranked.iter().enumerate() {
        let id = input[r.input_index];
        let score = r.score.map_or_else(String::new, |s| format!("{s:.3}"));
        println!("  {:>2}. {id:<8} {score:>6}  {}", k + 1, genres(id));
    }

    let item = ranked.first().map_or_else(
        || similar.item_id(0).to_owned(),
        |r| input[r.input_index].to_owned(),
    );
    println!("\nsimilar items to {item} ({}):", genres(&item));
    for (k, i) in similar.similar(&item, SAMPLE).into_iter().enumerate() {
        let id = similar.item_id(i);
        println!("  {:>2}. {id:<8} {}", k + 1, genres(id));
    }
    Sample {
        user: user_id,
        items: input.iter().take(5).map(|s| (*s).to_owned()).collect(),
        item,
    }
}
