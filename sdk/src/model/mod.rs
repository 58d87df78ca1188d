//! Trained models: the versioned artifact ([`format`]) and inference with Personalize's
//! semantics (`spec/models.md` 4.1-4.3).
//!
//! A [`Model`] is immutable and cheap to share (`Arc<Model>`); every inference call is
//! allocation-light, does no I/O and takes the caller's real-time events as an argument, so the
//! server can hold models in memory and swap them atomically.

pub mod foldin;
pub(crate) mod format;
mod ids;
pub(crate) mod simd;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{invalid, Result};
pub use format::FORMAT_VERSION;
use format::{Artifact, ArtifactWriter};
pub use ids::IdTable;

/// The recipes Attune trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Recipe {
    /// `attune-personalized-ranking` (alias `aws-personalized-ranking`).
    PersonalizedRanking,
    /// `attune-similar-items` (aliases `aws-similar-items`, `aws-sims`).
    SimilarItems,
    /// `attune-popularity-count` (alias `aws-popularity-count`).
    PopularityCount,
}

impl Recipe {
    /// Parses a recipe name, alias or recipe ARN (`arn:aws:personalize:::recipe/<name>`).
    pub fn parse(name: &str) -> Option<Recipe> {
        let name = name.rsplit_once("recipe/").map_or(name, |(_, n)| n);
        Some(match name {
            "attune-personalized-ranking"
            | "aws-personalized-ranking"
            | "aws-personalized-ranking-v2" => Recipe::PersonalizedRanking,
            "attune-similar-items" | "aws-similar-items" | "aws-sims" => Recipe::SimilarItems,
            "attune-popularity-count" | "aws-popularity-count" => Recipe::PopularityCount,
            _ => return None,
        })
    }

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Recipe::PersonalizedRanking => "attune-personalized-ranking",
            Recipe::SimilarItems => "attune-similar-items",
            Recipe::PopularityCount => "attune-popularity-count",
        }
    }

    /// The recipe ARN Personalize clients expect.
    pub fn arn(self) -> String {
        format!("arn:aws:personalize:::recipe/{}", self.name())
    }

    /// Personalize's recipe type.
    pub fn recipe_type(self) -> &'static str {
        match self {
            Recipe::PersonalizedRanking => "PERSONALIZED_RANKING",
            Recipe::SimilarItems => "RELATED_ITEMS",
            Recipe::PopularityCount => "POPULAR_ITEMS",
        }
    }
}

/// The artifact's JSON header: what was trained, how, and on how much data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelHeader {
    /// The recipe.
    pub recipe: Recipe,
    /// The algorithm inside it: `ials`, `ease`, `sequence`, `sims` or `popularity`.
    pub algorithm: String,
    /// The hyperparameters used, as strings (Personalize's form).
    pub hyperparameters: BTreeMap<String, String>,
    /// Weight of each event type in training; real-time events use the same weights.
    pub event_type_weights: BTreeMap<String, f32>,
    /// Weight for event types not listed (and events without a type).
    pub default_event_weight: f32,
    /// Interactions the model was trained on.
    pub interactions: u64,
    /// Unix seconds at the end of training.
    pub trained_at: f64,
}

/// The model's parameters by algorithm.
#[derive(Debug, Clone)]
pub enum Body {
    /// iALS factors: user and item vectors, the Gram matrix YᵀY, and the solve's constants.
    Factors {
        /// Vector width.
        d: usize,
        /// Users × d, row-major.
        users: Vec<f32>,
        /// Items × d, row-major.
        items: Vec<f32>,
        /// YᵀY, d × d.
        gram: Vec<f32>,
        /// λ of the user solve.
        regularization: f32,
        /// Confidence scaling: c = 1 + α w.
        alpha: f32,
    },
    /// EASE item-item weights, items × items row-major: score(i) = Σ_j w_j B[j, i].
    Ease {
        /// The weight matrix.
        b: Vec<f32>,
    },
    /// The sequence model's item-item weights over its solved items (`train::seq`): a user's
    /// events in time order, the newest weighing the most, score `Σ_k w_k B[item_k, j]`.
    Sequence {
        /// The solved items, ascending; position `p` of `b` is item `kept[p]`.
        kept: Vec<u32>,
        /// Item index → position in `kept` (`u32::MAX`: not solved); derived from `kept`.
        slot: Vec<u32>,
        /// `kept.len()²` weights, row-major: `b[p * m + q]`, history item `p`, candidate `q`.
        b: Vec<f32>,
        /// The recency half-life in events (0: every event weighs the same).
        half_life: f32,
    },
    /// Similar-Items neighbour lists.
    Neighbours {
        /// Item `i`'s neighbours are `items[indptr[i]..indptr[i + 1]]`, best first.
        indptr: Vec<u64>,
        /// Neighbour item indices.
        items: Vec<u32>,
        /// Their similarity scores.
        scores: Vec<f32>,
    },
    /// Popularity only.
    Popularity,
}

/// A trained, immutable model.
#[derive(Debug, Clone)]
pub struct Model {
    /// What was trained.
    pub header: ModelHeader,
    /// Item ids; item index `i` everywhere below.
    pub items: IdTable,
    /// User ids of the training data; user index `u` everywhere below.
    pub users: IdTable,
    /// Distinct users per item.
    pub popularity: Vec<u32>,
    /// Items by popularity, most popular first.
    pub popular_order: Vec<u32>,
    /// Each user's trained history: `hist_items[hist_indptr[u]..hist_indptr[u + 1]]` with weights
    /// (for the `sequence` algorithm in time order, oldest first; otherwise by item).
    pub hist_indptr: Vec<u64>,
    /// History item indices.
    pub hist_items: Vec<u32>,
    /// History weights (event-type and recency weighted).
    pub hist_weights: Vec<f32>,
    /// The algorithm's parameters.
    pub body: Body,
}

/// One entry of a ranking: the position in the caller's input list and the score (`None` for
/// items the model does not know, which come last in input order).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    /// Index into the input list.
    pub input_index: usize,
    /// Softmax score over the known input items (they sum to 1), or `None`.
    pub score: Option<f64>,
}

/// The most items a ranking request may carry (GetPersonalizedRanking's inputList).
pub const MAX_INPUT_ITEMS: usize = 500;

impl Model {
    /// Reads an artifact (one read, checksum verified).
    pub fn load(path: &Path) -> Result<Model> {
        let a = Artifact::read(path)?;
        let header: ModelHeader =
            serde_json::from_slice(a.header()).map_err(|e| a.corrupt(format!("header: {e}")))?;
        let id_table = |blob: &[u8; 4], off: &[u8; 4], slots: &[u8; 4]| -> Result<IdTable> {
            let t = IdTable {
                blob: a.bytes(blob)?,
                offsets: a.u64s(off)?,
                slots: a.u32s(slots)?,
            };
            if std::str::from_utf8(&t.blob).is_err()
                || t.offsets.last().copied().unwrap_or(0) as usize != t.blob.len()
                || !t.slots.len().is_power_of_two()
            {
                return Err(a.corrupt("id table is inconsistent"));
            }
            Ok(t)
        };
        let items = id_table(b"ITID", b"ITOF", b"ITSL")?;
        let users = id_table(b"USID", b"USOF", b"USSL")?;
        let body = match header.algorithm.as_str() {
            "ials" => {
                let d = a.u32s(b"DIMS")?.first().copied().unwrap_or(0) as usize;
                let consts = a.f32s(b"CNST")?;
                let (regularization, alpha) = match consts.as_slice() {
                    [r, al] => (*r, *al),
                    _ => return Err(a.corrupt("CNST must hold 2 values")),
                };
                Body::Factors {
                    d,
                    users: a.f32s(b"UFAC")?,
                    items: a.f32s(b"IFAC")?,
                    gram: a.f32s(b"GRAM")?,
                    regularization,
                    alpha,
                }
            }
            "ease" => Body::Ease {
                b: a.f32s(b"EASB")?,
            },
            "sequence" => {
                let kept = a.u32s(b"SQKP")?;
                let half_life = match a.f32s(b"SQHL")?.as_slice() {
                    [h] => *h,
                    _ => return Err(a.corrupt("SQHL must hold 1 value")),
                };
                Body::Sequence {
                    slot: sequence_slots(&kept, items.len()),
                    kept,
                    b: a.f32s(b"SQBW")?,
                    half_life,
                }
            }
            "sims" => Body::Neighbours {
                indptr: a.u64s(b"NPTR")?,
                items: a.u32s(b"NIDX")?,
                scores: a.f32s(b"NSCR")?,
            },
            "popularity" => Body::Popularity,
            other => return Err(a.corrupt(format!("unknown algorithm {other:?}"))),
        };
        let model = Model {
            header,
            items,
            users,
            popularity: a.u32s(b"POPC")?,
            popular_order: a.u32s(b"POPO")?,
            hist_indptr: a.u64s(b"HPTR")?,
            hist_items: a.u32s(b"HIDX")?,
            hist_weights: a.f32s(b"HVAL")?,
            body,
        };
        model.check().map_err(|e| a.corrupt(e))?;
        Ok(model)
    }

    /// Checks that array sizes agree with each other, so indexing cannot go out of bounds.
    fn check(&self) -> std::result::Result<(), String> {
        let (ni, nu) = (self.items.len(), self.users.len());
        let ok_items = |v: &[u32]| v.iter().all(|&i| (i as usize) < ni);
        if self.popularity.len() != ni
            || self.popular_order.len() != ni
            || !ok_items(&self.popular_order)
        {
            return Err("popularity arrays do not match the item count".into());
        }
        if self.hist_indptr.len() != nu + 1
            || self.hist_indptr.last().copied().unwrap_or(0) as usize != self.hist_items.len()
            || self.hist_items.len() != self.hist_weights.len()
            || !ok_items(&self.hist_items)
            || self.hist_indptr.windows(2).any(|w| w[0] > w[1])
        {
            return Err("user histories are inconsistent".into());
        }
        match &self.body {
            Body::Factors {
                d,
                users,
                items,
                gram,
                ..
            } => {
                if *d == 0 || users.len() != nu * d || items.len() != ni * d || gram.len() != d * d
                {
                    return Err("factor matrices do not match the counts".into());
                }
            }
            Body::Ease { b } => {
                if b.len() != ni * ni {
                    return Err("EASE matrix does not match the item count".into());
                }
            }
            Body::Sequence {
                kept,
                slot,
                b,
                half_life,
            } => {
                let m = kept.len();
                if b.len() != m * m
                    || slot.len() != ni
                    || !ok_items(kept)
                    || kept.windows(2).any(|w| w[0] >= w[1])
                    || !(half_life.is_finite() && *half_life >= 0.0)
                {
                    return Err("sequence model arrays do not match the item count".into());
                }
            }
            Body::Neighbours {
                indptr,
                items,
                scores,
            } => {
                if indptr.len() != ni + 1
                    || indptr.last().copied().unwrap_or(0) as usize != items.len()
                    || items.len() != scores.len()
                    || !ok_items(items)
                    || indptr.windows(2).any(|w| w[0] > w[1])
                {
                    return Err("neighbour lists are inconsistent".into());
                }
            }
            Body::Popularity => {}
        }
        Ok(())
    }

    /// Writes the artifact atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        self.check()
            .map_err(|e| invalid!("model is inconsistent: {e}"))?;
        let mut w = ArtifactWriter::default();
        w.bytes(b"ITID", self.items.blob.clone());
        w.u64s(b"ITOF", &self.items.offsets);
        w.u32s(b"ITSL", &self.items.slots);
        w.bytes(b"USID", self.users.blob.clone());
        w.u64s(b"USOF", &self.users.offsets);
        w.u32s(b"USSL", &self.users.slots);
        w.u32s(b"POPC", &self.popularity);
        w.u32s(b"POPO", &self.popular_order);
        w.u64s(b"HPTR", &self.hist_indptr);
        w.u32s(b"HIDX", &self.hist_items);
        w.f32s(b"HVAL", &self.hist_weights);
        match &self.body {
            Body::Factors {
                d,
                users,
                items,
                gram,
                regularization,
                alpha,
            } => {
                w.u32s(b"DIMS", &[*d as u32]);
                w.f32s(b"CNST", &[*regularization, *alpha]);
                w.f32s(b"UFAC", users);
                w.f32s(b"IFAC", items);
                w.f32s(b"GRAM", gram);
            }
            Body::Ease { b } => w.f32s(b"EASB", b),
            Body::Sequence {
                kept, b, half_life, ..
            } => {
                w.u32s(b"SQKP", kept);
                w.f32s(b"SQBW", b);
                w.f32s(b"SQHL", &[*half_life]);
            }
            Body::Neighbours {
                indptr,
                items,
                scores,
            } => {
                w.u64s(b"NPTR", indptr);
                w.u32s(b"NIDX", items);
                w.f32s(b"NSCR", scores);
            }
            Body::Popularity => {}
        }
        let header = serde_json::to_vec(&self.header).map_err(|e| invalid!("header: {e}"))?;
        w.write(path, &header)
    }

    /// The recipe.
    pub fn recipe(&self) -> Recipe {
        self.header.recipe
    }

    /// The weight a real-time event of this type carries.
    pub fn event_weight(&self, event_type: &str) -> f32 {
        self.header
            .event_type_weights
            .get(event_type)
            .copied()
            .unwrap_or(self.header.default_event_weight)
    }

    /// A user's trained history (item index, weight).
    pub fn trained_history(&self, user: u32) -> impl Iterator<Item = (u32, f32)> + '_ {
        let (a, b) = (
            self.hist_indptr[user as usize] as usize,
            self.hist_indptr[user as usize + 1] as usize,
        );
        self.hist_items[a..b]
            .iter()
            .copied()
            .zip(self.hist_weights[a..b].iter().copied())
    }

    /// The full history of a user for scoring: the trained history of `user_id` (when known)
    /// followed by `recent` events (item id, weight) whose items the model knows.
    pub fn history(&self, user_id: &str, recent: &[(&str, f32)]) -> Vec<(u32, f32)> {
        let mut h: Vec<(u32, f32)> = match self.users.index(user_id) {
            Some(u) => self.trained_history(u).collect(),
            None => Vec::new(),
        };
        h.extend(
            recent
                .iter()
                .filter_map(|(id, w)| self.items.index(id).map(|i| (i, *w))),
        );
        h
    }

    /// Scores every item in `candidates` for a user; `None` when the model has nothing
    /// personal for them (unknown user without events, or a non-personalized recipe).
    fn personal_scores(
        &self,
        user_id: &str,
        recent: &[(&str, f32)],
        candidates: &[u32],
        out: &mut Vec<f32>,
    ) -> bool {
        out.clear();
        match &self.body {
            Body::Factors {
                d,
                users,
                items,
                gram,
                regularization,
                alpha,
            } => {
                let known = self.users.index(user_id);
                let has_recent = recent.iter().any(|(id, _)| self.items.index(id).is_some());
                let folded;
                let x: &[f32] = match (known, has_recent) {
                    (Some(u), false) => &users[u as usize * d..(u as usize + 1) * d],
                    (None, false) => return false,
                    (_, true) => {
                        let hist = self.history(user_id, recent);
                        folded =
                            foldin::solve_user(items, gram, *d, *regularization, *alpha, &hist);
                        &folded
                    }
                };
                // After a fold-in this kernel also matters for the softmax below: without it the
                // `exp` calls measured 30x slower (stalls at libm's SSE/AVX boundary, gone once
                // an AVX kernel has returned; 132 -> 49 µs per ranking with 50 events).
                simd::simd_exact(FactorScores {
                    x,
                    items,
                    candidates,
                    out,
                });
                true
            }
            Body::Ease { b } => {
                let hist = self.history(user_id, recent);
                if hist.is_empty() {
                    return false;
                }
                let n = self.items.len();
                out.extend(candidates.iter().map(|&i| {
                    hist.iter()
                        .map(|&(j, w)| w.clamp(0.0, 1.0) * b[j as usize * n + i as usize])
                        .sum::<f32>()
                }));
                true
            }
            Body::Sequence {
                kept,
                slot,
                b,
                half_life,
            } => {
                let hist = self.history(user_id, recent);
                if hist.is_empty() {
                    return false;
                }
                let m = kept.len();
                let cand: Vec<u32> = candidates
                    .iter()
                    .map(|&i| slot.get(i as usize).copied().unwrap_or(u32::MAX))
                    .collect();
                out.resize(candidates.len(), 0.0);
                let n = hist.len();
                let start = n - events_read(n, *half_life);
                for (k, &(i, w)) in hist.iter().enumerate().skip(start) {
                    let p = slot[i as usize];
                    if p == u32::MAX {
                        continue;
                    }
                    let w = w.clamp(0.0, 1.0) * recency_weight(n - 1 - k, *half_life);
                    let row = &b[p as usize * m..(p as usize + 1) * m];
                    for (o, &c) in out.iter_mut().zip(&cand) {
                        if let Some(&v) = row.get(c as usize) {
                            *o += w * v;
                        }
                    }
                }
                true
            }
            Body::Neighbours { .. } | Body::Popularity => false,
        }
    }

    /// GetPersonalizedRanking: re-ranks `input` (item ids, at most [`MAX_INPUT_ITEMS`]) for a
    /// user, with `recent` real-time events (item id, weight) folded in. Known items come first
    /// by score, with softmax scores over the known items that sum to 1; unknown items follow in
    /// input order without a score; duplicate ids keep their first occurrence only. An unknown
    /// user without events is ranked by popularity.
    pub fn rank<S: AsRef<str>>(
        &self,
        user_id: &str,
        recent: &[(&str, f32)],
        input: &[S],
    ) -> Vec<Ranked> {
        // Known items in input order, first occurrences only: input positions and item indices.
        let mut positions: Vec<u32> = Vec::with_capacity(input.len());
        let mut candidates: Vec<u32> = Vec::with_capacity(input.len());
        let mut unknown: Vec<usize> = Vec::new();
        let mut seen = ItemSet::with_capacity(input.len());
        for (pos, id) in input.iter().enumerate() {
            let id = id.as_ref();
            match self.items.index(id) {
                // The first occurrence of a known item (inserting marks it seen).
                Some(i) if seen.insert(i) => {
                    positions.push(pos as u32);
                    candidates.push(i);
                }
                Some(_) => {}
                // Unknown ids are rare: a linear duplicate check among them is enough.
                None if !unknown.iter().any(|&p| input[p].as_ref() == id) => unknown.push(pos),
                None => {}
            }
        }
        let mut scores = Vec::with_capacity(candidates.len());
        if !self.personal_scores(user_id, recent, &candidates, &mut scores) {
            // Popularity: log counts, so the softmax still favours popular items.
            scores.clear();
            scores.extend(
                candidates
                    .iter()
                    .map(|&i| (1.0 + self.popularity[i as usize] as f32).ln()),
            );
        }
        // Best first with ties in input order, i.e. a stable sort by descending
        // `f32::total_cmp`: one sort of (inverted score key, index) packed in a u64.
        let mut order: Vec<u64> = scores
            .iter()
            .enumerate()
            .map(|(k, &s)| (u64::from(!total_order_key(s)) << 32) | k as u64)
            .collect();
        sort_keys(&mut order);
        // Softmax in f64; the sum is taken in input order.
        let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0f64;
        let exps: Vec<f64> = scores
            .iter()
            .map(|&s| {
                let e = f64::from(s - max).exp();
                sum += e;
                e
            })
            .collect();
        let mut out: Vec<Ranked> = Vec::with_capacity(order.len() + unknown.len());
        out.extend(order.iter().map(|&key| {
            let k = key as u32 as usize;
            Ranked {
                input_index: positions[k] as usize,
                score: Some(exps[k] / sum),
            }
        }));
        out.extend(unknown.into_iter().map(|pos| Ranked {
            input_index: pos,
            score: None,
        }));
        out
    }

    /// Top-N items for a user over the whole catalog, excluding items in their history;
    /// popular items for an unknown user without events.
    pub fn top_n(&self, user_id: &str, recent: &[(&str, f32)], n: usize) -> Vec<(u32, f32)> {
        let all: Vec<u32> = (0..self.items.len() as u32).collect();
        let mut scores = Vec::new();
        // Sorted history items: a binary search per candidate, not a scan of the history.
        let mut seen_items: Vec<u32> = self
            .history(user_id, recent)
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        seen_items.sort_unstable();
        seen_items.dedup();
        let seen = |i: u32| seen_items.binary_search(&i).is_ok();
        if !self.personal_scores(user_id, recent, &all, &mut scores) {
            return self
                .popular_order
                .iter()
                .copied()
                .filter(|&i| !seen(i))
                .take(n)
                .map(|i| (i, self.popularity[i as usize] as f32))
                .collect();
        }
        let mut pairs: Vec<(u32, f32)> = all
            .into_iter()
            .zip(scores)
            .filter(|&(i, _)| !seen(i))
            .collect();
        top_k(&mut pairs, n);
        pairs
    }

    /// Similar items for an item id (Similar-Items models), best first, at most `n`; popular
    /// items when the id is unknown or has no neighbours.
    pub fn similar(&self, item_id: &str, n: usize) -> Vec<u32> {
        let known = self.items.index(item_id);
        let mut out: Vec<u32> = Vec::with_capacity(n);
        if let (Some(i), Body::Neighbours { indptr, items, .. }) = (known, &self.body) {
            let (a, b) = (indptr[i as usize] as usize, indptr[i as usize + 1] as usize);
            out.extend(items[a..b].iter().copied().take(n));
        }
        if out.len() < n {
            for &p in &self.popular_order {
                if out.len() == n {
                    break;
                }
                if Some(p) != known && !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        out
    }

    /// The most popular items, at most `n`.
    pub fn popular(&self, n: usize) -> &[u32] {
        &self.popular_order[..n.min(self.popular_order.len())]
    }

    /// The item id at an index.
    pub fn item_id(&self, i: u32) -> &str {
        self.items.get(i)
    }
}

/// The weight of an event `age` events older than the newest: `0.5^(age / half_life)`, 1 when
/// `half_life` is 0.
#[inline]
pub(crate) fn recency_weight(age: usize, half_life: f32) -> f32 {
    if half_life > 0.0 {
        (-(age as f32) * std::f32::consts::LN_2 / half_life).exp()
    } else {
        1.0
    }
}

/// How many of the newest events scoring reads: beyond 24 half-lives a weight is below 10⁻⁷
/// of the newest event's (every event when `half_life` is 0).
pub(crate) fn events_read(len: usize, half_life: f32) -> usize {
    if half_life > 0.0 {
        len.min((half_life * 24.0).ceil() as usize + 1)
    } else {
        len
    }
}

/// Item index → position in `kept` (`u32::MAX` for items not solved), for `n_items` items.
pub(crate) fn sequence_slots(kept: &[u32], n_items: usize) -> Vec<u32> {
    let mut slot = vec![u32::MAX; n_items];
    for (p, &i) in kept.iter().enumerate() {
        if let Some(s) = slot.get_mut(i as usize) {
            *s = p as u32;
        }
    }
    slot
}

/// Scores of candidates for a user vector `x`: `out[k] = x · item(candidates[k])`, compiled for
/// AVX2 where the CPU has it (see [`simd::simd_exact`]: the scores do not depend on it).
struct FactorScores<'a> {
    x: &'a [f32],
    items: &'a [f32],
    candidates: &'a [u32],
    out: &'a mut Vec<f32>,
}

impl simd::Kernel for FactorScores<'_> {
    type Output = ();

    #[inline(always)]
    fn run<M: simd::Madd>(self) {
        let d = self.x.len();
        self.out.clear();
        self.out.resize(self.candidates.len(), 0.0);
        for (o, &i) in self.out.iter_mut().zip(self.candidates) {
            *o = dot(self.x, &self.items[i as usize * d..(i as usize + 1) * d]);
        }
    }
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight accumulators so the loop vectorizes.
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// A key whose unsigned order is `f32::total_cmp`'s order.
fn total_order_key(x: f32) -> u32 {
    let bits = x.to_bits();
    // Negative values: flip every bit (larger magnitude sorts lower); others: set the sign bit.
    if bits >> 31 == 1 {
        !bits
    } else {
        bits | 0x8000_0000
    }
}

/// Sorts u64s whose low 32 bits are distinct and already ascending (an index): a stable LSD
/// radix sort on the high 32 bits, which for a few hundred keys costs a third of a comparison
/// sort; small inputs use the comparison sort. Either way the result is the ascending order.
fn sort_keys(keys: &mut Vec<u64>) {
    const RADIX_MIN: usize = 64;
    if keys.len() < RADIX_MIN {
        keys.sort_unstable();
        return;
    }
    let mut counts = [[0u32; 256]; 4];
    for &k in keys.iter() {
        let h = (k >> 32) as u32;
        counts[0][h as u8 as usize] += 1;
        counts[1][(h >> 8) as u8 as usize] += 1;
        counts[2][(h >> 16) as u8 as usize] += 1;
        counts[3][(h >> 24) as usize] += 1;
    }
    let n = keys.len() as u32;
    let mut other = vec![0u64; keys.len()];
    for (c, shift) in counts.iter_mut().zip([32u32, 40, 48, 56]) {
        // A byte every key shares does not reorder anything.
        let mut sum = 0u32;
        let mut shared = false;
        for x in c.iter_mut() {
            let here = *x;
            if here == n {
                shared = true;
                break;
            }
            *x = sum;
            sum += here;
        }
        if shared {
            continue;
        }
        for &k in keys.iter() {
            let b = (k >> shift) as u8 as usize;
            other[c[b] as usize] = k;
            c[b] += 1;
        }
        std::mem::swap(keys, &mut other);
    }
}

/// A set of item indices for one request: open addressing in a table of at least twice the
/// expected count (a few KB for 500 inputs), so no sort is needed to drop duplicates.
struct ItemSet {
    /// Item index + 1; 0 is empty.
    slots: Vec<u32>,
    shift: u32,
}

impl ItemSet {
    fn with_capacity(n: usize) -> ItemSet {
        let size = (n * 2).next_power_of_two().max(2);
        ItemSet {
            slots: vec![0; size],
            shift: 32 - size.trailing_zeros(),
        }
    }

    /// Adds `item`; false when it was already there.
    fn insert(&mut self, item: u32) -> bool {
        let mask = self.slots.len() - 1;
        let v = item.wrapping_add(1);
        // Fibonacci hashing: the top bits of the product spread consecutive indices.
        let mut s = (v.wrapping_mul(0x9E37_79B9) >> self.shift) as usize & mask;
        loop {
            match self.slots[s] {
                0 => {
                    self.slots[s] = v;
                    return true;
                }
                x if x == v => return false,
                _ => s = (s + 1) & mask,
            }
        }
    }
}

/// Keeps the `k` highest-scoring pairs, sorted best first (ties by item index).
pub(crate) fn top_k(pairs: &mut Vec<(u32, f32)>, k: usize) {
    let cmp = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if pairs.len() > k && k > 0 {
        pairs.select_nth_unstable_by(k - 1, cmp);
        pairs.truncate(k);
    } else if k == 0 {
        pairs.clear();
    }
    pairs.sort_unstable_by(cmp);
}

#[cfg(test)]
mod tests;
