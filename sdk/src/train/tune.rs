//! Tuning on validation users: what `algorithm=auto` does without being asked.
//!
//! A validation split is carved from the users being trained (never the evaluation's test
//! users): 10% of them, drawn with a fixed seed, are cut in time like test users (oldest 90% in,
//! newest 10% to find); the rest train. Each candidate setting is trained on those and scored by
//! NDCG@25 per validation user. Everything is seeded, so the same data gives the same choice.
//!
//! `auto` tries, within a budget of a few fits:
//! - the sequence model (`train/seq.rs`) at three `λ` (scaled by the data: multiples of the mean
//!   diagonal of `XᵀX`) with and without transitions, each scored at several request-time
//!   half-lives (those need no refit), when the catalog is small enough for it;
//! - iALS at three confidence scalings `α` (c = 1 + α·w), then two regularizations around the
//!   default at the best `α`, with fewer iterations than the final fit.
//!
//! The sequence family is preferred (it won on every dataset it was validated on) unless iALS
//! is ahead by more than two standard errors of the paired per-user differences. Settings the
//! solution gave explicitly are never tuned.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{invalid, Result};
use crate::import::Progress;
use crate::model::{Body, Model, Recipe};
use crate::store::solutions::SolutionConfig;

use super::data::TrainingData;
use super::{eval, fit, recipe_settings, recommend_for_history, seq, Plan, Settings};

/// The seed of the validation split (the evaluation split uses [`super::EVALUATION_SEED`]).
pub const VALIDATION_SEED: u64 = super::EVALUATION_SEED + 1;

/// `λ` candidates as multiples of the mean diagonal of `XᵀX` over the solved items.
const LAMBDA_SCALES: [f64; 3] = [1.0, 4.0, 16.0];
/// Transition weights tried (0: EASE with recency-weighted scoring).
const TRANSITION_WEIGHTS: [f32; 2] = [0.0, 1.0];
/// Request-time half-lives tried, in events (0: no decay).
const HALF_LIVES: [f32; 6] = [0.0, 2.0, 4.0, 8.0, 16.0, 32.0];
/// iALS confidence scalings tried.
const ALPHAS: [f32; 3] = [1.0, 8.0, 40.0];
/// iALS regularization factors tried around the default, at the best `α`.
const REG_FACTORS: [f32; 2] = [0.1, 10.0];
/// iALS iterations of a validation fit (at most).
const VALIDATION_ITERATIONS: usize = 8;

/// The settings to train with: `settings` itself unless its algorithm is `auto`, which is
/// resolved on a validation split of the users `keep` selects.
pub(crate) fn resolve(
    data: &TrainingData,
    keep: Option<&[bool]>,
    settings: &Settings,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<Settings> {
    if let Some(plan) = &settings.hpo {
        return hpo(data, keep, settings, plan, progress, cancel);
    }
    match &settings.plan {
        Plan::Ranking { algorithm, .. } if algorithm == "auto" => {
            auto(data, keep, settings, progress, cancel)
        }
        _ => Ok(settings.clone()),
    }
}

/// `performHPO`'s trials: hyperparameter values to try, and how to compare them.
#[derive(Debug, Clone)]
pub(crate) struct HpoPlan {
    /// Each trial's values (on top of the solution's `algorithmHyperParameters`).
    trials: Vec<BTreeMap<String, String>>,
    /// A GetSolutionMetrics name.
    metric: String,
    maximize: bool,
    /// Trials trained at once.
    parallel: usize,
}

/// The metric names an objective may name.
const OBJECTIVE_METRICS: [&str; 8] = [
    "coverage",
    "mean_reciprocal_rank_at_25",
    "normalized_discounted_cumulative_gain_at_5",
    "normalized_discounted_cumulative_gain_at_10",
    "normalized_discounted_cumulative_gain_at_25",
    "precision_at_5",
    "precision_at_10",
    "precision_at_25",
];

/// The seed of HPO's random search.
const HPO_SEED: u64 = 7;

/// The trials of a solution's `performHPO` + `hpoConfig` (None without `performHPO`). Every
/// range must name a hyperparameter of the recipe (`training.` and `data.` prefixes accepted),
/// not also set in `algorithmHyperParameters`, and each end (each categorical value) must be
/// valid for it. When the ranges hold at most `maxNumberOfTrainingJobs` combinations (integer
/// and categorical ranges only), every combination is a trial; otherwise the trials are a
/// seeded random sample (continuous ranges log-uniform when they span a factor of 10 or more
/// above 0).
pub(crate) fn hpo_plan(recipe: Recipe, config: &SolutionConfig) -> Result<Option<HpoPlan>> {
    let Some(h) = &config.hpo_config else {
        if config.perform_hpo {
            return Err(invalid!(
                "performHPO needs solutionConfig.hpoConfig with algorithmHyperParameterRanges"
            ));
        }
        return Ok(None);
    };
    if !config.perform_hpo {
        return Err(invalid!(
            "solutionConfig.hpoConfig is only used with performHPO=true"
        ));
    }
    let objective = h.hpo_objective.clone().unwrap_or_default();
    let metric = objective
        .metric_name
        .unwrap_or_else(|| "normalized_discounted_cumulative_gain_at_25".into());
    if !OBJECTIVE_METRICS.contains(&metric.as_str()) {
        return Err(invalid!(
            "solutionConfig.hpoConfig.hpoObjective.metricName {metric:?} is not one of {}",
            OBJECTIVE_METRICS.join(", ")
        ));
    }
    let maximize = match objective.objective_type.as_deref() {
        None | Some("Maximize") => true,
        Some("Minimize") => false,
        Some(other) => {
            return Err(invalid!(
                "solutionConfig.hpoConfig.hpoObjective.type {other:?} is not Maximize or Minimize"
            ))
        }
    };
    let resources = h.hpo_resource_config.clone().unwrap_or_default();
    let count = |field: &str, v: Option<String>, default: usize, max: usize| -> Result<usize> {
        match v {
            None => Ok(default),
            Some(s) => s
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    invalid!("solutionConfig.hpoConfig.hpoResourceConfig.{field} {s:?} is not a whole number in 1-{max}")
                }),
        }
    };
    let jobs = count(
        "maxNumberOfTrainingJobs",
        resources.max_number_of_training_jobs,
        8,
        40,
    )?;
    let parallel = count(
        "maxParallelTrainingJobs",
        resources.max_parallel_training_jobs,
        1,
        10,
    )?;

    // Each range as its name and the values it can take (continuous: its ends).
    enum Kind {
        Int(i64, i64),
        Real(f64, f64),
        Values(Vec<String>),
    }
    let r = &h.algorithm_hyper_parameter_ranges;
    let mut ranges: Vec<(String, Kind)> = Vec::new();
    let path = "solutionConfig.hpoConfig.algorithmHyperParameterRanges";
    for x in &r.integer_hyper_parameter_ranges {
        if x.min_value > x.max_value {
            return Err(invalid!(
                "{path}.integerHyperParameterRanges {}: minValue {} is above maxValue {}",
                x.name,
                x.min_value,
                x.max_value
            ));
        }
        ranges.push((x.name.clone(), Kind::Int(x.min_value, x.max_value)));
    }
    for x in &r.continuous_hyper_parameter_ranges {
        if !(x.min_value.is_finite() && x.max_value.is_finite() && x.min_value <= x.max_value) {
            return Err(invalid!(
                "{path}.continuousHyperParameterRanges {}: [{}, {}] is not a range",
                x.name,
                x.min_value,
                x.max_value
            ));
        }
        ranges.push((x.name.clone(), Kind::Real(x.min_value, x.max_value)));
    }
    for x in &r.categorical_hyper_parameter_ranges {
        if x.values.is_empty() || x.values.len() > 100 {
            return Err(invalid!(
                "{path}.categoricalHyperParameterRanges {}: 1-100 values, found {}",
                x.name,
                x.values.len()
            ));
        }
        ranges.push((x.name.clone(), Kind::Values(x.values.clone())));
    }
    if ranges.is_empty() {
        return Err(invalid!("{path}: performHPO needs at least one range"));
    }
    let mut names = std::collections::BTreeSet::new();
    for (name, kind) in &mut ranges {
        let plain = name
            .strip_prefix("training.")
            .or_else(|| name.strip_prefix("data."))
            .unwrap_or(name)
            .to_owned();
        if !names.insert(plain.clone()) {
            return Err(invalid!("{path}: {plain} has more than one range"));
        }
        if config.algorithm_hyper_parameters.contains_key(&plain) {
            return Err(invalid!(
                "{path}: {plain} is also set in algorithmHyperParameters; set it in one place"
            ));
        }
        let ends: Vec<String> = match kind {
            Kind::Int(a, b) => vec![a.to_string(), b.to_string()],
            Kind::Real(a, b) => vec![a.to_string(), b.to_string()],
            Kind::Values(v) => v.clone(),
        };
        for v in ends {
            let mut map = config.algorithm_hyper_parameters.clone();
            map.insert(plain.clone(), v);
            super::recipe_settings(recipe, &map, 1)
                .map_err(|e| invalid!("{path}: {plain}: {e}"))?;
        }
        *name = plain;
    }

    // Every combination when they are few enough, else a seeded random sample.
    let sizes: Vec<Option<usize>> = ranges
        .iter()
        .map(|(_, k)| match k {
            Kind::Int(a, b) => usize::try_from(b - a).ok().map(|n| n + 1),
            Kind::Real(a, b) if a == b => Some(1),
            Kind::Real(..) => None,
            Kind::Values(v) => Some(v.len()),
        })
        .collect();
    let grid = sizes
        .iter()
        .try_fold(1usize, |acc, s| s.and_then(|s| acc.checked_mul(s)))
        .filter(|&g| g <= jobs);
    let mut trials = Vec::new();
    if let Some(g) = grid {
        for mut k in 0..g {
            let mut t = BTreeMap::new();
            for ((name, kind), size) in ranges.iter().zip(&sizes) {
                let size = size.unwrap_or(1);
                let pick = k % size;
                k /= size;
                let v = match kind {
                    Kind::Int(a, _) => (a + pick as i64).to_string(),
                    Kind::Real(a, _) => a.to_string(),
                    Kind::Values(v) => v[pick].clone(),
                };
                t.insert(name.clone(), v);
            }
            trials.push(t);
        }
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(HPO_SEED);
        for _ in 0..jobs {
            let mut t = BTreeMap::new();
            for (name, kind) in &ranges {
                let v = match kind {
                    Kind::Int(a, b) => rng.random_range(*a..=*b).to_string(),
                    Kind::Real(a, b) if a == b => a.to_string(),
                    Kind::Real(a, b) if *a > 0.0 && b / a >= 10.0 => {
                        let x = rng.random_range(a.ln()..=b.ln()).exp();
                        format!("{}", (x as f32).clamp(*a as f32, *b as f32))
                    }
                    Kind::Real(a, b) => format!("{}", rng.random_range(*a..=*b) as f32),
                    Kind::Values(v) => v[rng.random_range(0..v.len())].clone(),
                };
                t.insert(name.clone(), v);
            }
            trials.push(t);
        }
    }
    Ok(Some(HpoPlan {
        trials,
        metric,
        maximize,
        parallel,
    }))
}

/// Runs the HPO trials on a validation split of the users `keep` selects and returns the
/// settings of the best (ties: the earlier trial), resolved further when it leaves
/// `algorithm=auto`.
fn hpo(
    data: &TrainingData,
    keep: Option<&[bool]>,
    settings: &Settings,
    plan: &HpoPlan,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<Settings> {
    let validation = Validation::new(data, keep);
    let threads = (settings.threads / plan.parallel).max(1);
    let run = |trial: &BTreeMap<String, String>| -> Result<f64> {
        let mut s = with_overrides(settings, trial)?;
        s.threads = threads;
        let s = resolve(data, Some(&validation.train), &s, progress, cancel)?;
        let model = fit(data, Some(&validation.train), &s, progress, cancel)?;
        let m = eval::evaluate(
            &validation.split,
            model.items.len(),
            |t| recommend_for_history(&model, &t.input, eval::TOP_K),
            1,
        )
        .to_map();
        Ok(m.get(&plan.metric).copied().unwrap_or(0.0))
    };
    let mut scores: Vec<f64> = Vec::with_capacity(plan.trials.len());
    for chunk in plan.trials.chunks(plan.parallel) {
        let results: Vec<Result<f64>> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk.iter().map(|t| s.spawn(|| run(t))).collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("an HPO trial panicked"))
                .collect()
        });
        for (t, r) in chunk.iter().zip(results) {
            let v = r?;
            progress.message(&format!(
                "HPO trial {}/{}: {} = {v:.4} ({})",
                scores.len() + 1,
                plan.trials.len(),
                plan.metric,
                describe(t)
            ));
            scores.push(v);
        }
    }
    let mut best = 0;
    for (k, &v) in scores.iter().enumerate() {
        let better = if plan.maximize {
            v > scores[best]
        } else {
            v < scores[best]
        };
        if better {
            best = k;
        }
    }
    let chosen = plan.trials[best].clone();
    let s = with_overrides(settings, &chosen)?;
    let mut s = resolve(data, keep, &s, progress, cancel)?;
    let mut tuned = chosen;
    tuned.extend(s.tuned.clone());
    s.tuned = tuned;
    Ok(s)
}

/// `key=value, ...` of a tuned map, for messages.
pub fn describe(tuned: &BTreeMap<String, String>) -> String {
    tuned
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A validation split of the users `keep` selects: the users whose events train the candidate
/// models, and the validation users.
pub(crate) struct Validation {
    /// Users whose events train (a subset of `keep`).
    pub(crate) train: Vec<bool>,
    /// The validation users, cut in time.
    pub(crate) split: eval::Split,
}

impl Validation {
    pub(crate) fn new(data: &TrainingData, keep: Option<&[bool]>) -> Validation {
        let selected = |u: usize| keep.is_none_or(|k| k[u]);
        let histories: Vec<Vec<(i64, u32)>> = data
            .histories()
            .into_iter()
            .enumerate()
            .map(|(u, h)| if selected(u) { h } else { Vec::new() })
            .collect();
        let split = eval::split(&histories, 0.1, VALIDATION_SEED);
        let mut train = vec![false; data.users.len()];
        for &u in &split.train_users {
            // Users `keep` leaves out (an evaluation's test users) never train a candidate.
            train[u as usize] = selected(u as usize);
        }
        Validation { train, split }
    }

    /// Per-validation-user NDCG@25 of a model.
    pub(crate) fn scores(&self, model: &Model) -> Vec<f64> {
        self.split
            .test
            .iter()
            .map(|t| {
                let ranked = recommend_for_history(model, &t.input, eval::TOP_K);
                eval::ndcg(&ranked, &t.truth, eval::TOP_K)
            })
            .collect()
    }
}

fn mean(x: &[f64]) -> f64 {
    if x.is_empty() {
        0.0
    } else {
        x.iter().sum::<f64>() / x.len() as f64
    }
}

/// Mean and standard error of `a - b`.
fn paired(a: &[f64], b: &[f64]) -> (f64, f64) {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let n = d.len() as f64;
    let m = mean(&d);
    if d.len() < 2 {
        return (m, f64::INFINITY);
    }
    let var = d.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}

/// `settings` with the hyperparameters `overrides` sets (on top of what the solution gave).
pub(crate) fn with_overrides(
    settings: &Settings,
    overrides: &BTreeMap<String, String>,
) -> Result<Settings> {
    let mut map = settings.given.clone();
    map.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut s = recipe_settings(settings.recipe, &map, settings.threads)?;
    s.given = settings.given.clone();
    Ok(s)
}

fn num(x: f64) -> String {
    // Short, exact enough, and parseable back as f32.
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

fn auto(
    data: &TrainingData,
    keep: Option<&[bool]>,
    settings: &Settings,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<Settings> {
    let Plan::Ranking {
        ease: ep,
        ials: ip,
        ease_half_life_days,
        ..
    } = &settings.plan
    else {
        return Ok(settings.clone());
    };
    let given = |k: &str| settings.given.contains_key(k);
    let validation = Validation::new(data, keep);
    let type_weights: Vec<f32> = data
        .event_types
        .iter()
        .map(|t| settings.type_weights.get(t).copied().unwrap_or(1.0))
        .collect();
    let x = data.matrix(&type_weights, *ease_half_life_days, Some(&validation.train));
    let solved = seq::solved_items(&x, ep.min_users);
    let sequence_fits = !solved.is_empty() && solved.len() <= ep.max_items;
    let finish = |tuned: BTreeMap<String, String>| -> Result<Settings> {
        let mut s = with_overrides(settings, &tuned)?;
        s.tuned = tuned;
        Ok(s)
    };
    if validation.split.test.len() < 2 {
        let algorithm = if sequence_fits { "sequence" } else { "ials" };
        progress.message(&format!(
            "too few users to validate on: algorithm={algorithm} with its defaults"
        ));
        return finish(BTreeMap::from([("algorithm".into(), algorithm.into())]));
    }

    // The sequence family: (λ, β) fits, each scored at every request-time half-life.
    let mut best_seq: Option<(f64, BTreeMap<String, String>, Vec<f64>)> = None;

    if sequence_fits {
        let scale = seq::mean_gram_diagonal(&x, &solved);
        let lambdas: Vec<String> = if given("ease_lambda") {
            vec![settings.given["ease_lambda"].clone()]
        } else {
            LAMBDA_SCALES.iter().map(|f| num(f * scale)).collect()
        };
        let betas: Vec<String> = if given("transition_weight") {
            vec![settings.given["transition_weight"].clone()]
        } else {
            TRANSITION_WEIGHTS
                .iter()
                .map(|b| num(f64::from(*b)))
                .collect()
        };
        let half_lives: Vec<String> = if given("recent_events_half_life") {
            vec![settings.given["recent_events_half_life"].clone()]
        } else {
            HALF_LIVES.iter().map(|h| num(f64::from(*h))).collect()
        };
        for beta in &betas {
            for lambda in &lambdas {
                let mut candidate = BTreeMap::from([
                    ("algorithm".to_owned(), "sequence".to_owned()),
                    ("ease_lambda".to_owned(), lambda.clone()),
                    ("transition_weight".to_owned(), beta.clone()),
                ]);
                let s = with_overrides(settings, &candidate)?;
                let mut model = fit(data, Some(&validation.train), &s, progress, cancel)?;
                for h in &half_lives {
                    if let Body::Sequence { half_life, .. } = &mut model.body {
                        *half_life = h.parse().unwrap_or(0.0);
                    }
                    candidate.insert("recent_events_half_life".into(), h.clone());
                    let scores = validation.scores(&model);
                    let m = mean(&scores);
                    progress.message(&format!(
                        "validation NDCG@25 {m:.4}: {}",
                        describe(&candidate)
                    ));
                    if best_seq.as_ref().is_none_or(|b| m > b.0) {
                        best_seq = Some((m, candidate.clone(), scores));
                    }
                }
            }
        }
    }

    // iALS: α first, then the regularization at the best α, with fewer iterations.
    type Scored = (f64, BTreeMap<String, String>, Vec<f64>);
    let mut best_ials: Option<Scored> = None;
    let iterations = ip.iterations.min(VALIDATION_ITERATIONS).to_string();
    let try_ials = |best_ials: &mut Option<Scored>, alpha: String, reg: String| -> Result<()> {
        let mut candidate = BTreeMap::from([
            ("algorithm".to_owned(), "ials".to_owned()),
            ("alpha".to_owned(), alpha),
            ("regularization".to_owned(), reg),
        ]);
        let mut fast = candidate.clone();
        if !given("iterations") {
            fast.insert("iterations".into(), iterations.clone());
        }
        let s = with_overrides(settings, &fast)?;
        let model = fit(data, Some(&validation.train), &s, progress, cancel)?;
        let scores = validation.scores(&model);
        let m = mean(&scores);
        progress.message(&format!(
            "validation NDCG@25 {m:.4}: {}",
            describe(&candidate)
        ));
        if best_ials.as_ref().is_none_or(|b| m > b.0) {
            candidate.retain(|k, _| k != "iterations");
            *best_ials = Some((m, candidate, scores));
        }
        Ok(())
    };
    let default_reg = num(f64::from(ip.regularization));
    let alphas: Vec<String> = if given("alpha") {
        vec![settings.given["alpha"].clone()]
    } else {
        ALPHAS.iter().map(|a| num(f64::from(*a))).collect()
    };
    for a in &alphas {
        try_ials(&mut best_ials, a.clone(), default_reg.clone())?;
    }
    if !given("regularization") {
        let alpha = best_ials
            .as_ref()
            .map(|b| b.1["alpha"].clone())
            .unwrap_or_default();
        for f in REG_FACTORS {
            try_ials(
                &mut best_ials,
                alpha.clone(),
                num(f64::from(ip.regularization * f)),
            )?;
        }
    }
    let (_, ials_choice, ials_scores) = best_ials.expect("at least one iALS setting was tried");
    let tuned = match best_seq {
        Some((_, seq_choice, seq_scores)) => {
            let (d, se) = paired(&ials_scores, &seq_scores);
            let ials_wins = d > 2.0 * se;
            progress.message(&format!(
                "validation NDCG@25, iALS − sequence: {d:+.4} ± {se:.4}: {}",
                if ials_wins { "iALS" } else { "sequence" }
            ));
            if ials_wins {
                ials_choice
            } else {
                seq_choice
            }
        }
        None => ials_choice,
    };
    finish(tuned)
}
