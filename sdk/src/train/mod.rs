//! Training: solution versions from a dataset group's data, with the recipes
//! (Personalized-Ranking by iALS or EASE, Similar-Items, Popularity-Count) and Personalize's
//! offline evaluation.
//!
//! [`create_solution_version`] is the whole pipeline: load the effective data, check the
//! minimums, split users 90/10 (seeded), train on the training users, score the test users'
//! newest 10% from their oldest 90%, then train the final model on all data and write the
//! artifact. A version directory holds `version.json` from the start (CREATE IN_PROGRESS) and
//! `model.bin` only once training succeeded; a failed or interrupted training leaves no model.

pub mod data;
pub mod ease;
pub mod eval;
pub mod hp;
pub mod ials;
pub mod matrix;
pub mod percentile;
pub mod popularity;
pub mod seq;
pub mod sims;
#[cfg(test)]
mod tests;
pub mod tune;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::error::{Error, Result};
use crate::model::{foldin, Body, IdTable, Model, ModelHeader, Recipe};
use crate::progress::Progress;
use crate::store::fsutil;
use crate::store::running::RunningJob;
use crate::store::solutions::{SolutionConfig, SolutionInfo, SolutionVersionInfo};
use crate::store::Store;

use data::{DataConfig, TrainingData};
use hp::Hyperparameters;
use percentile::PercentileBand;

/// The seed of the evaluation split, fixed so versions trained on the same data compare.
pub const EVALUATION_SEED: u64 = 42;

/// How to train.
#[derive(Debug, Clone, Copy)]
pub struct TrainOptions {
    /// Worker threads (default: the machine's cores).
    pub threads: usize,
    /// Compute metrics on a held-out split before the final training (default true).
    pub evaluate: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            evaluate: true,
        }
    }
}

/// A recipe's resolved settings.
#[derive(Debug, Clone)]
pub(crate) enum Plan {
    Ranking {
        algorithm: String,
        ials: ials::IalsParams,
        ease: ease::EaseParams,
        /// iALS's recency half-life (0: no decay).
        half_life_days: f32,
        /// EASE's recency half-life (0: no decay), also the sequence model's.
        ease_half_life_days: f32,
        /// The sequence model's training settings (`algorithm=sequence`).
        seq: seq::SeqParams,
        /// The sequence model's recency half-life at request time, in events (0: none).
        seq_half_life: f32,
    },
    Similar(sims::SimsParams),
    Popularity,
}

/// Everything [`fit`] needs besides the data.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    recipe: Recipe,
    plan: Plan,
    type_weights: BTreeMap<String, f32>,
    /// Users whose history length is outside this band are left out of fitting.
    user_band: PercentileBand,
    /// Items whose interaction count is outside this band are left out of the neighbour lists
    /// (Similar-Items).
    item_band: PercentileBand,
    hyperparameters: BTreeMap<String, String>,
    /// The hyperparameters the solution set explicitly (tuning leaves them alone).
    given: BTreeMap<String, String>,
    /// What tuning chose (`algorithm=auto` or HPO): Personalize's `tunedHPOParams`.
    tuned: BTreeMap<String, String>,
    /// `performHPO`: the trials to run on validation users first.
    hpo: Option<tune::HpoPlan>,
    threads: usize,
}

fn settings(solution: &SolutionInfo, threads: usize) -> Result<Settings> {
    let recipe = solution.recipe()?;
    let mut s = recipe_settings(
        recipe,
        &solution.solution_config.algorithm_hyper_parameters,
        threads,
    )?;
    s.hpo = tune::hpo_plan(recipe, &solution.solution_config)?;
    Ok(s)
}

/// CreateSolution's check of a `solutionConfig` against the recipe: its hyperparameters
/// ([`check_hyperparameters`]) and, with `performHPO`, its `hpoConfig` (ranges of known keys
/// whose every end is a valid value, objective, trial counts), each error naming the field.
pub fn check_solution_config(
    recipe: Recipe,
    config: &crate::store::solutions::SolutionConfig,
) -> Result<()> {
    check_hyperparameters(recipe, &config.algorithm_hyper_parameters)?;
    tune::hpo_plan(recipe, config).map(|_| ())
}

/// CreateSolution's check of `algorithmHyperParameters` against the recipe: an unknown key, a
/// value that does not parse or one outside its range is [`Error::InvalidInput`] naming the key.
pub fn check_hyperparameters(
    recipe: Recipe,
    hyperparameters: &BTreeMap<String, String>,
) -> Result<()> {
    recipe_settings(recipe, hyperparameters, 1).map(|_| ())
}

/// CreateSolution: checks the recipe's hyperparameters and, with `performHPO`, its `hpoConfig`
/// ([`check_solution_config`]), then records the solution ([`Store::create_solution`]).
pub fn create_solution(
    store: &Store,
    name: &str,
    group: &str,
    recipe: Recipe,
    event_type: Option<String>,
    config: SolutionConfig,
) -> Result<SolutionInfo> {
    check_solution_config(recipe, &config)?;
    store.create_solution(name, group, recipe, event_type, config)
}

fn recipe_settings(
    recipe: Recipe,
    map: &BTreeMap<String, String>,
    threads: usize,
) -> Result<Settings> {
    let mut hp = Hyperparameters::new(map);
    let type_weights = hp.weights("event_weights")?;
    let (mut user_band, mut item_band) = (PercentileBand::ALL, PercentileBand::ALL);
    let plan = match recipe {
        Recipe::PersonalizedRanking => {
            let d = ials::IalsParams::default();
            let algorithm =
                hp.choice("algorithm", "auto", &["auto", "ials", "ease", "sequence"])?;
            let ials = ials::IalsParams {
                factors: hp.int("factors", &["hidden_dimension"], d.factors as u64, 4, 512)?
                    as usize,
                regularization: hp.float("regularization", &[], d.regularization, 0.0, 1e5)?,
                alpha: hp.float("alpha", &[], d.alpha, 0.0, 1e5)?,
                iterations: hp.int("iterations", &[], d.iterations as u64, 1, 200)? as usize,
                cg_steps: hp.int("cg_steps", &[], d.cg_steps as u64, 1, 32)? as usize,
                seed: hp.int("seed", &[], d.seed, 0, u64::MAX)?,
                threads,
            };
            let e = ease::EaseParams::default();
            let ease = ease::EaseParams {
                lambda: hp.float("ease_lambda", &[], e.lambda, 0.0, 1e7)?,
                max_items: hp.int("ease_max_items", &[], e.max_items as u64, 1, 100_000)? as usize,
                min_users: hp.int("ease_min_users", &[], e.min_users as u64, 0, 1_000_000)?
                    as usize,
                threads,
            };
            // `apply_recency_bias` is Personalized-Ranking-v2's name for the same switch.
            let recency = hp.boolean("recency_mask", &["apply_recency_bias"], true)?;
            // Each algorithm has its own half-life, from MovieLens validation splits
            // (benches/quality): 1000 days for iALS (best of 0, 365, 1000, 3000; +0.004 NDCG@10
            // over none); 5000 for EASE (of 0 to 10000 with λ 30-300: within noise of the best
            // and better than none on NDCG@10, NDCG@25 and MRR@25 alike, +0.007 NDCG@10, while
            // 365 days cost EASE a quarter of its NDCG@10).
            let half_life_days = hp.float("recency_half_life_days", &[], 1000.0, 0.0, 1e6)?;
            let ease_half_life_days =
                hp.float("ease_recency_half_life_days", &[], 5000.0, 0.0, 1e6)?;
            let off = |h: f32| if recency { h } else { 0.0 };
            // The sequence model (train/seq.rs): `bptt`, Personalize's sequence window, is how
            // many earlier events explain each event; `auto` tunes λ (`ease_lambda`), the
            // transition weight and the request-time half-life on validation users.
            let sd = seq::SeqParams::default();
            let seq = seq::SeqParams {
                lambda: ease.lambda,
                transition_weight: hp.float(
                    "transition_weight",
                    &[],
                    sd.transition_weight,
                    0.0,
                    1e4,
                )?,
                window: hp.int("bptt", &["training.bptt"], sd.window as u64, 2, 32)? as usize,
                min_users: ease.min_users,
                max_items: ease.max_items,
                threads,
            };
            let seq_half_life = hp.float("recent_events_half_life", &[], 16.0, 0.0, 1e6)?;
            // Personalize's default max is 0.99; Attune keeps every user by default, because
            // dropping the heaviest 1% of users would change every existing model.
            user_band = PercentileBand::read(
                &mut hp,
                "min_user_history_length_percentile",
                "max_user_history_length_percentile",
            )?;
            Plan::Ranking {
                algorithm,
                ials,
                ease,
                half_life_days: off(half_life_days),
                ease_half_life_days: off(ease_half_life_days),
                seq,
                seq_half_life: if recency { seq_half_life } else { 0.0 },
            }
        }
        Recipe::SimilarItems => {
            let d = sims::SimsParams::default();
            // Personalize's SIMS defaults (0.005, 0.995, 0.01, 0.9) would drop users and, worse,
            // the most popular 10% of items from every neighbour list; Attune keeps everything
            // by default so existing models do not change.
            user_band = PercentileBand::read(
                &mut hp,
                "min_user_history_length_percentile",
                "max_user_history_length_percentile",
            )?;
            item_band = PercentileBand::read(
                &mut hp,
                "min_item_interaction_count_percentile",
                "max_item_interaction_count_percentile",
            )?;
            // No-ops kept for configs copied from Personalize's Similar-Items (recorded like any
            // key): the widths of its neural item embeddings; Attune's neighbours have none.
            hp.int("item_id_hidden_dim", &[], 100, 30, 200)?;
            hp.int("item_metadata_hidden_dim", &[], 100, 30, 200)?;
            Plan::Similar(sims::SimsParams {
                popularity_discount_factor: hp.float(
                    "popularity_discount_factor",
                    &[],
                    d.popularity_discount_factor,
                    0.0,
                    1.0,
                )?,
                min_cointeraction_count: hp.int(
                    "min_cointeraction_count",
                    &[],
                    u64::from(d.min_cointeraction_count),
                    0,
                    10,
                )? as u32,
                max_history: hp.int("max_history", &[], d.max_history as u64, 1, 100_000)? as usize,
                neighbours: hp.int("neighbours", &[], d.neighbours as u64, 1, 500)? as usize,
                metadata_weight: hp.float("metadata_weight", &[], d.metadata_weight, 0.0, 1e6)?,
                threads,
            })
        }
        Recipe::PopularityCount => Plan::Popularity,
    };
    let hyperparameters = hp.finish(recipe.name())?;
    Ok(Settings {
        recipe,
        plan,
        type_weights,
        user_band,
        item_band,
        hyperparameters,
        given: map.clone(),
        tuned: BTreeMap::new(),
        hpo: None,
        threads,
    })
}

/// CreateSolutionVersion, run to completion: trains a new version of `solution` on the dataset
/// group's current data. Returns the ACTIVE version; on failure the version is recorded as
/// CREATE FAILED (or CREATE STOPPED when `cancel` was set) and the error returned.
pub fn create_solution_version(
    store: &Store,
    solution: &str,
    options: &TrainOptions,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<SolutionVersionInfo> {
    begin_solution_version(store, solution, options)?.train(progress, cancel)
}

/// The first half of [`create_solution_version`]: checks the solution's settings, allocates
/// the version and records it as CREATE IN_PROGRESS, so a caller (the server's
/// CreateSolutionVersion) has its ARN before training starts. Train it with
/// [`PendingVersion::train`], on any thread.
pub fn begin_solution_version(
    store: &Store,
    solution: &str,
    options: &TrainOptions,
) -> Result<PendingVersion> {
    let solution = store.solution(solution)?;
    let settings = settings(&solution, options.threads.max(1))?;
    // Held until the final record is written: a reader that finds the version in progress and
    // its lock free knows its process died (store::running).
    let job = store.begin_solution_version(&solution)?;
    Ok(PendingVersion {
        job,
        store: store.clone(),
        solution,
        settings,
        evaluate: options.evaluate,
    })
}

/// A solution version recorded as CREATE IN_PROGRESS and not trained yet
/// ([`begin_solution_version`]).
#[derive(Debug)]
pub struct PendingVersion {
    job: RunningJob<SolutionVersionInfo>,
    store: Store,
    solution: SolutionInfo,
    settings: Settings,
    evaluate: bool,
}

impl PendingVersion {
    /// The version as recorded (CREATE IN_PROGRESS).
    pub fn info(&self) -> &SolutionVersionInfo {
        self.job.record()
    }

    /// Trains the version to completion. Returns it ACTIVE; on failure it is recorded as
    /// CREATE FAILED (or CREATE STOPPED when `cancel` was set) and the error returned.
    pub fn train(
        self,
        progress: &dyn Progress,
        cancel: &AtomicBool,
    ) -> Result<SolutionVersionInfo> {
        let PendingVersion {
            mut job,
            store,
            solution,
            mut settings,
            evaluate: run_evaluation,
        } = self;
        let store = &store;
        let started = Instant::now();
        let mut tuned = None;
        let trained = (|| -> Result<(Model, BTreeMap<String, f64>)> {
            let config = data_config(&solution);
            let data = data::load(store, solution.dataset_group(), &config)?;
            data::check_minimums(&data, &config)?;
            let mut metrics = BTreeMap::new();
            if run_evaluation {
                progress.message("evaluating on a held-out 10% of users");
                let (m, resolved) = evaluate(&data, &settings, progress, cancel)?;
                metrics = m;
                // `auto` chose on the training users only; the final model uses the same
                // settings, so the metrics describe what is deployed.
                settings = resolved;
            } else {
                settings = tune::resolve(&data, None, &settings, progress, cancel)?;
            }
            if !settings.tuned.is_empty() {
                progress.message(&format!("tuned: {}", tune::describe(&settings.tuned)));
                tuned = Some(crate::store::solutions::TunedHpoParams {
                    algorithm_hyper_parameters: settings.tuned.clone(),
                });
            }
            progress.message("training the final model on all data");
            let model = fit(&data, None, &settings, progress, cancel)?;
            Ok((model, metrics))
        })();
        job.record_mut().tuned_hpo_params = tuned;
        store.finish_solution_version(job, trained, started)
    }
}

/// Splits users 90/10, trains on the training users and scores the test users. Returns the
/// metrics and the resolved settings (what `auto` or HPO chose, on the training users only).
fn evaluate(
    data: &TrainingData,
    settings: &Settings,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<(BTreeMap<String, f64>, Settings)> {
    let histories = data.histories();
    let split = eval::split(&histories, 0.1, EVALUATION_SEED);
    let mut keep = vec![false; data.users.len()];
    for &u in &split.train_users {
        keep[u as usize] = true;
    }
    let settings = tune::resolve(data, Some(&keep), settings, progress, cancel)?;
    let model = fit(data, Some(&keep), &settings, progress, cancel)?;
    let metrics = eval::evaluate(
        &split,
        model.items.len(),
        |t| recommend_for_history(&model, &t.input, 25),
        settings.threads,
    );
    Ok((metrics.to_map(), settings))
}

/// Top-`n` item indices for an anonymous history of item indices (evaluation's test users).
pub(crate) fn recommend_for_history(model: &Model, input: &[u32], n: usize) -> Vec<u32> {
    match model.recipe() {
        Recipe::SimilarItems => {
            let Some(&last) = input.last() else {
                return model.popular(n).to_vec();
            };
            let query = model.item_id(last).to_owned();
            model
                .similar(&query, n + input.len())
                .into_iter()
                .filter(|i| !input.contains(i))
                .take(n)
                .collect()
        }
        _ => {
            let recent: Vec<(&str, f32)> = input.iter().map(|&i| (model.item_id(i), 1.0)).collect();
            model
                .top_n("\u{0}evaluation", &recent, n)
                .into_iter()
                .map(|p| p.0)
                .collect()
        }
    }
}

/// Trains a model on the users `keep` selects (all when `None`).
///
/// The featurization bands ([`percentile`]) narrow that further: users outside the history
/// band are left out of fitting (popularity counts, iALS item factors, EASE weights,
/// co-occurrence), yet stay known users with their trained history, so their requests are
/// still personalized from it (for iALS their vectors are solved from their history against
/// the fitted item factors); Similar-Items leaves items outside the interaction-count band out
/// of every neighbour list and gives them neighbours from metadata only.
pub(crate) fn fit(
    data: &TrainingData,
    keep: Option<&[bool]>,
    settings: &Settings,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<Model> {
    let type_weights: Vec<f32> = data
        .event_types
        .iter()
        .map(|t| settings.type_weights.get(t).copied().unwrap_or(1.0))
        .collect();
    // `auto` (and HPO) resolve to concrete settings first, on validation users carved from
    // the users `keep` selects.
    let resolved = tune::resolve(data, keep, settings, progress, cancel)?;
    let settings = &resolved;
    // Personalized-Ranking's algorithm: iALS has its own recency decay, EASE and the sequence
    // model share theirs.
    let (algorithm, half_life) = match &settings.plan {
        Plan::Ranking {
            algorithm,
            half_life_days,
            ease_half_life_days,
            ..
        } => {
            let half_life = if algorithm == "ials" {
                *half_life_days
            } else {
                *ease_half_life_days
            };
            (algorithm.as_str(), half_life)
        }
        _ => ("", 0.0),
    };
    let bands = percentile::apply(data, keep, settings.user_band, settings.item_band);
    // The trained histories (every user `keep` selects) and what the model is fitted on.
    let matrix = data.matrix(&type_weights, half_life, keep);
    let fit_users_for_seq = bands.fit_users.as_deref().or(keep);
    let fitted = bands
        .fit_users
        .as_deref()
        .map(|users| data.matrix(&type_weights, half_life, Some(users)));
    let fit_matrix = fitted.as_ref().unwrap_or(&matrix);
    let fit_users = bands.fit_users.as_deref().or(keep);
    let n_items = match settings.plan {
        Plan::Similar(_) => data.items.len(),
        _ => data.interacted_items,
    };
    let pop = popularity::train(fit_matrix);
    let mut counts = pop.counts.clone();
    counts.resize(n_items, 0);
    let mut order = pop.order.clone();
    order.extend(data.interacted_items as u32..n_items as u32);
    // Similar-Items: an item the interaction-count band leaves out is recommended nowhere, not
    // even as the popular items that pad a short neighbour list.
    if let (Plan::Similar(_), Some(excluded)) = (&settings.plan, &bands.excluded_items) {
        order.retain(|&i| !excluded.get(i as usize).copied().unwrap_or(false));
    }

    let body = match &settings.plan {
        Plan::Popularity => Body::Popularity,
        Plan::Similar(params) => {
            let metadata = data.features.as_ref().map(sims_metadata);
            let histories: Vec<Vec<u32>> = data
                .histories()
                .into_iter()
                .enumerate()
                .filter(|(u, _)| fit_users.is_none_or(|k| k[*u]))
                .map(|(_, h)| h.into_iter().map(|p| p.1).collect())
                .collect();
            let n = sims::train_excluding(
                fit_matrix,
                &histories,
                metadata.as_ref(),
                n_items,
                params,
                bands.excluded_items.as_deref().unwrap_or(&[]),
            );
            Body::Neighbours {
                indptr: n.indptr.iter().map(|&p| p as u64).collect(),
                items: n.items,
                scores: n.scores,
            }
        }
        Plan::Ranking {
            ials: ip,
            ease: ep,
            seq: sp,
            seq_half_life,
            ..
        } => {
            if algorithm == "sequence" {
                progress.message("training the sequence model");
                let sequences = data.sequences(&type_weights, fit_users_for_seq);
                let s = seq::train(fit_matrix, &sequences, sp).map_err(Error::InvalidInput)?;
                Body::Sequence {
                    slot: crate::model::sequence_slots(&s.kept, n_items),
                    kept: s.kept,
                    b: s.b,
                    half_life: *seq_half_life,
                }
            } else if algorithm == "ease" {
                progress.message("training EASE");
                // Scoring reads the trained histories, the left-out users' included.
                let e = ease::train(fit_matrix, ep).map_err(Error::InvalidInput)?;
                Body::Ease { b: e.b }
            } else {
                progress.start("train iALS", ip.iterations as u64);
                let f = ials::train(fit_matrix, ip, &mut |_, _| {
                    progress.advance(1);
                    !cancel.load(Ordering::Relaxed)
                });
                progress.finish();
                let mut f = f?;
                let gram = foldin::gram(&f.items, f.factors);
                if let Some(fit) = &bands.fit_users {
                    solve_left_out_users(&mut f, &gram, &matrix, keep, fit, ip);
                }
                Body::Factors {
                    d: f.factors,
                    users: f.users,
                    items: f.items,
                    gram,
                    regularization: ip.regularization,
                    alpha: ip.alpha,
                }
            }
        }
    };
    if cancel.load(Ordering::Relaxed) {
        return Err(Error::Interrupted);
    }
    let hyperparameters = settings.hyperparameters.clone();
    let algorithm = match body {
        Body::Factors { .. } => "ials",
        Body::Ease { .. } => "ease",
        Body::Sequence { .. } => "sequence",
        Body::Neighbours { .. } => "sims",
        Body::Popularity => "popularity",
    };
    // The sequence model keeps each user's events in time order (its scoring reads the order);
    // the others keep the weighted matrix's rows.
    let (hist_indptr, hist_items, hist_weights) = if let Body::Sequence { .. } = body {
        let sequences = data.sequences(&type_weights, keep);
        let mut indptr = Vec::with_capacity(sequences.len() + 1);
        indptr.push(0u64);
        let (mut items, mut weights) = (Vec::new(), Vec::new());
        for s in &sequences {
            for &(i, w) in s {
                items.push(i);
                weights.push(w);
            }
            indptr.push(items.len() as u64);
        }
        (indptr, items, weights)
    } else {
        (
            matrix.indptr.iter().map(|&p| p as u64).collect(),
            matrix.indices.clone(),
            matrix.data.clone(),
        )
    };
    Ok(Model {
        header: ModelHeader {
            recipe: settings.recipe,
            algorithm: algorithm.into(),
            hyperparameters,
            event_type_weights: data
                .event_types
                .iter()
                .cloned()
                .zip(type_weights.iter().copied())
                .collect(),
            default_event_weight: 1.0,
            interactions: fit_matrix.nnz() as u64,
            trained_at: fsutil::now_secs(),
        },
        items: IdTable::new(&data.items[..n_items]),
        users: IdTable::new(&data.users),
        popularity: counts,
        popular_order: order,
        hist_indptr,
        hist_items,
        hist_weights,
        body,
    })
}

/// Gives the users `keep` selects but the history band left out (`fit` false) their exact
/// vectors against the fitted item factors, from their trained histories (rows of `matrix`),
/// as a request's fold-in would: iALS trained them as empty rows (zero vectors).
fn solve_left_out_users(
    f: &mut ials::Factors,
    gram: &[f32],
    matrix: &matrix::Csr,
    keep: Option<&[bool]>,
    fit: &[bool],
    params: &ials::IalsParams,
) {
    let d = f.factors;
    for u in 0..matrix.nrows() {
        if fit[u] || !keep.is_none_or(|k| k[u]) {
            continue;
        }
        let (cols, vals) = matrix.row(u);
        if cols.is_empty() {
            continue;
        }
        let history: Vec<(u32, f32)> = cols.iter().copied().zip(vals.iter().copied()).collect();
        let x = ials::fold_in(
            &f.items,
            gram,
            d,
            params.regularization,
            params.alpha,
            &history,
        );
        f.users[u * d..(u + 1) * d].copy_from_slice(&x);
    }
}

fn sims_metadata(f: &data::ItemFeatures) -> sims::ItemMetadata {
    let mut vocab: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    let mut id = |t: String| -> u32 {
        let n = vocab.len() as u32;
        *vocab.entry(t).or_insert(n)
    };
    let categorical = f
        .categorical
        .iter()
        .map(|tokens| tokens.iter().map(|t| id(t.clone())).collect())
        .collect();
    let textual = f
        .text
        .iter()
        .map(|t| {
            sims::tokenize(t)
                .into_iter()
                .map(|w| id(format!("text={w}")))
                .collect()
        })
        .collect();
    sims::ItemMetadata {
        categorical,
        textual,
    }
}

/// An evaluation split with string ids, so different models (and other libraries) can be scored
/// on exactly the same users.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SplitFile {
    /// Users whose whole history trains the model.
    pub train_users: Vec<String>,
    /// Test users: the oldest 90% of their events as input, the newest 10% as truth.
    pub test_users: Vec<SplitUser>,
}

/// One test user of a [`SplitFile`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SplitUser {
    /// The user id.
    pub user_id: String,
    /// Item ids of the oldest 90% of their events, in time order.
    pub input: Vec<String>,
    /// Distinct item ids of the newest 10%, not in `input`.
    pub truth: Vec<String>,
    /// Optional: a list to re-rank (the sampled re-ranking task: a truth item among sampled
    /// negatives). When present, the user's list is ranked like GetPersonalizedRanking ranks
    /// an input list, and `sampled_ndcg_at_10` and `sampled_mrr` score where truth items land.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<String>,
}

/// The Personalize split of a solution's data (its dataset group and event filter), cut into
/// `folds` disjoint sets of test users (1: the standard 90/10 split).
pub fn export_splits(store: &Store, solution: &str, folds: usize) -> Result<Vec<SplitFile>> {
    let solution = store.solution(solution)?;
    let data = data::load(store, solution.dataset_group(), &data_config(&solution))?;
    let histories = data.histories();
    let splits = if folds <= 1 {
        vec![eval::split(&histories, 0.1, EVALUATION_SEED)]
    } else {
        eval::split_folds(&histories, folds, EVALUATION_SEED)
    };
    let item = |i: &u32| data.items[*i as usize].clone();
    Ok(splits
        .into_iter()
        .map(|s| SplitFile {
            train_users: s
                .train_users
                .iter()
                .map(|&u| data.users[u as usize].clone())
                .collect(),
            test_users: s
                .test
                .iter()
                .map(|t| SplitUser {
                    user_id: data.users[t.user as usize].clone(),
                    input: t.input.iter().map(item).collect(),
                    truth: t.truth.iter().map(item).collect(),
                    candidates: Vec::new(),
                })
                .collect(),
        })
        .collect())
}

fn data_config(solution: &SolutionInfo) -> DataConfig {
    DataConfig {
        event_type: solution.event_type.clone(),
        event_value_threshold: solution
            .solution_config
            .event_value_threshold
            .as_deref()
            .and_then(|v| v.parse().ok()),
    }
}

/// Maps a split file's test users onto a model's item indices. Input items the model does not
/// know are dropped; truth items it does not know get indices past its catalog (never hit).
fn split_for_model(model: &Model, split: &SplitFile) -> eval::Split {
    let n = model.items.len() as u32;
    let mut extra: BTreeMap<&str, u32> = BTreeMap::new();
    let test = split
        .test_users
        .iter()
        .enumerate()
        .map(|(k, t)| eval::TestUser {
            user: k as u32,
            input: t
                .input
                .iter()
                .filter_map(|i| model.items.index(i))
                .collect(),
            truth: t
                .truth
                .iter()
                .map(|i| {
                    model.items.index(i).unwrap_or_else(|| {
                        let next = n + extra.len() as u32;
                        *extra.entry(i.as_str()).or_insert(next)
                    })
                })
                .collect(),
        })
        .collect();
    eval::Split {
        train_users: Vec::new(),
        test,
    }
}

/// Scores a trained model on a split's test users (Personalize's metrics). When the test users
/// carry `candidates`, also the sampled re-ranking task: each list ranked as
/// GetPersonalizedRanking ranks an input list for a user whose events are the input, with
/// `sampled_ndcg_at_10` (NDCG@10 of the truth items in the ranked list) and `sampled_mrr`
/// (reciprocal rank of the first truth item, over the whole list) averaged over those users.
pub fn evaluate_model_on_split(
    model: &Model,
    split: &SplitFile,
    threads: usize,
) -> BTreeMap<String, f64> {
    let s = split_for_model(model, split);
    let mut metrics = eval::evaluate(
        &s,
        model.items.len(),
        |t| recommend_for_history(model, &t.input, eval::TOP_K),
        threads.max(1),
    )
    .to_map();
    let (mut ndcg, mut mrr, mut users) = (0.0, 0.0, 0usize);
    for t in split.test_users.iter().filter(|t| !t.candidates.is_empty()) {
        let recent: Vec<(&str, f32)> = t.input.iter().map(|i| (i.as_str(), 1.0)).collect();
        let ranked = model.rank("\u{0}evaluation", &recent, &t.candidates);
        // Positions in the ranked list stand for items, so the metric functions apply.
        let order: Vec<u32> = ranked.iter().map(|r| r.input_index as u32).collect();
        let truth: Vec<u32> = (0..t.candidates.len() as u32)
            .filter(|&k| t.truth.contains(&t.candidates[k as usize]))
            .collect();
        ndcg += eval::ndcg(&order, &truth, 10);
        mrr += eval::reciprocal_rank(&order, &truth, order.len());
        users += 1;
    }
    if users > 0 {
        metrics.insert("sampled_ndcg_at_10".into(), ndcg / users as f64);
        metrics.insert("sampled_mrr".into(), mrr / users as f64);
    }
    metrics
}

/// Trains the solution's recipe on the split's training users only and scores its test users.
pub fn evaluate_solution_on_split(
    store: &Store,
    solution: &str,
    split: &SplitFile,
    options: &TrainOptions,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<BTreeMap<String, f64>> {
    let solution = store.solution(solution)?;
    let settings = settings(&solution, options.threads.max(1))?;
    let data = data::load(store, solution.dataset_group(), &data_config(&solution))?;
    let train_users: std::collections::HashSet<&str> =
        split.train_users.iter().map(String::as_str).collect();
    let keep: Vec<bool> = data
        .users
        .iter()
        .map(|u| train_users.contains(u.as_str()))
        .collect();
    let model = fit(&data, Some(&keep), &settings, progress, cancel)?;
    Ok(evaluate_model_on_split(&model, split, settings.threads))
}
