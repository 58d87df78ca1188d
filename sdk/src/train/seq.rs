//! The sequence-aware Personalized-Ranking model (`algorithm=sequence`): a closed-form linear
//! item-item model over users and their event transitions, in the spirit of SLIST (Choi et
//! al., "Session-aware Linear Item-Item Models for Session-based Recommendation", WWW 2021),
//! scored at request time with the user's newest events weighing the most.
//!
//! Training combines two least-squares objectives over one weight matrix `B`:
//!
//! ```text
//! min_B ‖X − X B‖² + β ‖T − S B‖² + λ ‖B‖²,   diag(B) = 0
//! ```
//!
//! - `X` (users × items) is EASE's matrix: what a user has is explained by the rest of it.
//! - `S → T` are the transitions: for each event `t` of a user's time-ordered sequence, a row of
//!   `T` holds its item and the row of `S` the up to `window` (`bptt`) events before it, the
//!   event `d` steps back weighing `1/d`. This is how the order of events enters the model: an
//!   item that tends to *follow* another gets weight from it even when the two are not
//!   co-consumed in general.
//!
//! With `G = XᵀX + β SᵀS + λI` and `P = G⁻¹`, the unconstrained solution is
//! `B₀ = P (XᵀX + β SᵀT) = I − λP + β P (SᵀT − SᵀS)`, and the zero-diagonal constraint
//! (Lagrange multipliers, as in EASE) gives `B = B₀ − P · diag(B₀ⱼⱼ / Pⱼⱼ)`. With `β = 0` this is
//! exactly EASE (`B_ij = −P_ij / P_jj`); the transition term costs one dense matrix product more.
//!
//! At request time a user's events, trained history then real-time events (oldest first), are
//! weighed by `0.5^(age / h)`, `age` the number of events newer than it and `h` the recency
//! half-life in events (0: all weigh alike), and `score(j) = Σ_k w_k B[i_k, j]`.
//!
//! Only items with at least `min_users` users are solved for; `B` is stored over those `m`
//! items only (`m × m`, not the catalog's square).

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

use super::ease::{gram_lower, invert_spd, thread_count};
use super::matrix::Csr;

/// Sequence-model hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct SeqParams {
    /// L2 penalty `λ`; must be positive and finite.
    pub lambda: f32,
    /// Weight `β` of the transition objective (0: EASE).
    pub transition_weight: f32,
    /// How many previous events explain each event (Personalize's `bptt`).
    pub window: usize,
    /// Items with fewer users are left out of the solve.
    pub min_users: usize,
    /// Training refuses more solved items than this (the solve is dense: several `8 m²` bytes).
    pub max_items: usize,
    /// Worker threads; 0 means every available core.
    pub threads: usize,
}

impl Default for SeqParams {
    fn default() -> SeqParams {
        SeqParams {
            lambda: 100.0,
            transition_weight: 1.0,
            window: 32,
            min_users: 5,
            max_items: 20_000,
            threads: 0,
        }
    }
}

/// A trained sequence model.
#[derive(Debug, Clone, PartialEq)]
pub struct SeqModel {
    /// The solved items (catalog indices, ascending); position `p` in `b` is item `kept[p]`.
    pub kept: Vec<u32>,
    /// `B`, `m × m` row-major: `b[p * m + q]` is the weight of history item `kept[p]` in the
    /// score of `kept[q]`. The diagonal is zero.
    pub b: Vec<f32>,
}

/// The items with at least `min_users` users in `x`.
pub fn solved_items(x: &Csr, min_users: usize) -> Vec<u32> {
    let mut users = vec![0usize; x.ncols];
    for &j in &x.indices {
        users[j as usize] += 1;
    }
    (0..x.ncols as u32)
        .filter(|&j| users[j as usize] >= min_users.max(1))
        .collect()
}

/// The mean of `XᵀX`'s diagonal over the solved items (a scale for `λ`).
pub fn mean_gram_diagonal(x: &Csr, kept: &[u32]) -> f64 {
    if kept.is_empty() {
        return 1.0;
    }
    let mut keep = vec![false; x.ncols];
    for &j in kept {
        keep[j as usize] = true;
    }
    let sum: f64 = x
        .indices
        .iter()
        .zip(&x.data)
        .filter(|(j, _)| keep[**j as usize])
        .map(|(_, &w)| f64::from(w) * f64::from(w))
        .sum();
    (sum / kept.len() as f64).max(1e-6)
}

/// Trains the model from `x` (users × items, the users to fit) and the same users' events in
/// time order (`sequences[u]`: (item, weight)).
///
/// Fails, with a message for [`crate::Error::InvalidInput`], when `lambda` is not positive and
/// finite or more than `max_items` items would be solved for.
pub fn train(
    x: &Csr,
    sequences: &[Vec<(u32, f32)>],
    params: &SeqParams,
) -> Result<SeqModel, String> {
    if !(params.lambda.is_finite() && params.lambda > 0.0) {
        return Err(format!(
            "lambda must be positive and finite, got {}",
            params.lambda
        ));
    }
    let kept = solved_items(x, params.min_users);
    let n = kept.len();
    if n > params.max_items {
        return Err(format!(
            "the sequence model supports at most {} items, the data has {n} with at least {} \
             users",
            params.max_items, params.min_users
        ));
    }
    let mut slot = vec![u32::MAX; x.ncols];
    for (p, &j) in kept.iter().enumerate() {
        slot[j as usize] = p as u32;
    }
    let sub = restrict(x, &slot, n);
    let threads = thread_count(params.threads);
    let par = if threads > 1 {
        Par::rayon(threads)
    } else {
        Par::Seq
    };
    let beta = params.transition_weight;

    // G = XᵀX + β SᵀS + λI (lower triangle, column-major, f64); M = β (SᵀT − SᵀS) (full, f32).
    let mut g = gram_lower(&sub, threads);
    let mut m = if beta > 0.0 {
        vec![0f32; n * n]
    } else {
        Vec::new()
    };
    if beta > 0.0 {
        let beta64 = f64::from(beta);
        let mut sources: Vec<(usize, f32)> = Vec::with_capacity(params.window);
        for seq in sequences {
            for t in 1..seq.len() {
                let (target, wt) = seq[t];
                let target = slot.get(target as usize).copied().unwrap_or(u32::MAX);
                if target == u32::MAX {
                    continue;
                }
                sources.clear();
                for d in 1..=params.window.min(t) {
                    let (i, w) = seq[t - d];
                    let p = slot.get(i as usize).copied().unwrap_or(u32::MAX);
                    if p != u32::MAX {
                        sources.push((p as usize, w.clamp(0.0, 1.0) / d as f32));
                    }
                }
                let target = target as usize;
                let wt = wt.clamp(0.0, 1.0);
                for &(a, wa) in &sources {
                    // SᵀT: element (source, target).
                    m[target * n + a] += beta * wa * wt;
                    for &(b, wb) in &sources {
                        let v = wa * wb;
                        m[b * n + a] -= beta * v;
                        if a >= b {
                            g[b * n + a] += beta64 * f64::from(v);
                        }
                    }
                }
            }
        }
    }
    for j in 0..n {
        g[j * n + j] += f64::from(params.lambda);
    }
    invert_spd(&mut g, n, par)?;
    let p = g;
    let lambda = f64::from(params.lambda);

    // B₀ = I − λP + P M (column-major); only P M needs a product.
    let pm = if beta > 0.0 {
        let pf: Vec<f32> = p.iter().map(|&v| v as f32).collect();
        let mut out = vec![0f32; n * n];
        matmul(
            MatMut::from_column_major_slice_mut(&mut out, n, n),
            Accum::Replace,
            MatRef::from_column_major_slice(&pf, n, n),
            MatRef::from_column_major_slice(&m, n, n),
            1.0f32,
            par,
        );
        out
    } else {
        Vec::new()
    };
    let b0 = |i: usize, j: usize| -> f64 {
        let mut v = -lambda * p[j * n + i];
        if i == j {
            v += 1.0;
        }
        if !pm.is_empty() {
            v += f64::from(pm[j * n + i]);
        }
        v
    };
    let scale: Vec<f64> = (0..n).map(|j| b0(j, j) / p[j * n + j]).collect();
    let mut b = vec![0f32; n * n];
    for (i, row) in b.chunks_mut(n.max(1)).enumerate().take(n) {
        for (j, dst) in row.iter_mut().enumerate() {
            // P is symmetric: P_ij = p[i * n + j], read along the row.
            *dst = if i == j {
                0.0
            } else {
                (b0(i, j) - p[i * n + j] * scale[j]) as f32
            };
        }
    }
    Ok(SeqModel { kept, b })
}

/// `x`'s columns renumbered by `slot` (`u32::MAX`: dropped), `n` columns.
fn restrict(x: &Csr, slot: &[u32], n: usize) -> Csr {
    let mut indptr = Vec::with_capacity(x.nrows() + 1);
    let (mut indices, mut data) = (Vec::new(), Vec::new());
    indptr.push(0);
    for u in 0..x.nrows() {
        let (cols, vals) = x.row(u);
        for (&j, &w) in cols.iter().zip(vals) {
            let k = slot[j as usize];
            if k != u32::MAX {
                indices.push(k);
                data.push(w);
            }
        }
        indptr.push(indices.len());
    }
    Csr {
        indptr,
        indices,
        data,
        ncols: n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::ease;

    /// Users walk a fixed cycle of 6 items from a random start, so every item follows one other.
    fn cycles() -> (Csr, Vec<Vec<(u32, f32)>>) {
        let mut sequences = Vec::new();
        let mut t = Vec::new();
        for u in 0..60u32 {
            let start = u % 6;
            let len = 3 + (u % 3) as usize;
            let seq: Vec<(u32, f32)> = (0..len)
                .map(|k| (((start as usize + k) % 6) as u32, 1.0))
                .collect();
            for &(i, _) in &seq {
                t.push((u, i, 1.0));
            }
            sequences.push(seq);
        }
        (Csr::from_triplets(60, 6, &t), sequences)
    }

    #[test]
    fn without_transitions_it_is_ease() {
        let (x, seqs) = cycles();
        let params = SeqParams {
            lambda: 5.0,
            transition_weight: 0.0,
            min_users: 0,
            threads: 1,
            ..SeqParams::default()
        };
        let s = train(&x, &seqs, &params).unwrap();
        let e = ease::train(
            &x,
            &ease::EaseParams {
                lambda: 5.0,
                max_items: 100,
                min_users: 0,
                threads: 1,
            },
        )
        .unwrap();
        assert_eq!(s.kept, (0..6).collect::<Vec<u32>>());
        for (a, b) in s.b.iter().zip(&e.b) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn transitions_favour_the_next_item_and_the_result_does_not_depend_on_threads() {
        let (x, seqs) = cycles();
        let params = |threads| SeqParams {
            lambda: 5.0,
            transition_weight: 1.0,
            min_users: 0,
            threads,
            ..SeqParams::default()
        };
        let s = train(&x, &seqs, &params(1)).unwrap();
        assert_eq!(s, train(&x, &seqs, &params(2)).unwrap());
        // From item 2 the next item (3) outscores the previous one (1); plain EASE ties them.
        let row = &s.b[2 * 6..3 * 6];
        assert!(row[3] > row[1] + 0.05, "{row:?}");
        assert_eq!(row[2], 0.0);
    }

    #[test]
    fn refuses_bad_lambda_and_too_many_items() {
        let (x, seqs) = cycles();
        let bad = SeqParams {
            lambda: 0.0,
            ..SeqParams::default()
        };
        assert!(train(&x, &seqs, &bad).unwrap_err().contains("lambda"));
        let small = SeqParams {
            max_items: 3,
            min_users: 0,
            ..SeqParams::default()
        };
        assert!(train(&x, &seqs, &small).unwrap_err().contains("at most 3"));
    }

    #[test]
    fn recency_weights_halve_per_half_life_and_bound_the_events_read() {
        use crate::model::{events_read, recency_weight};
        assert_eq!(recency_weight(5, 0.0), 1.0);
        assert!((recency_weight(4, 4.0) - 0.5).abs() < 1e-6);
        assert_eq!(events_read(1000, 0.0), 1000);
        assert_eq!(events_read(1000, 2.0), 49);
        assert_eq!(events_read(10, 2.0), 10);
    }
}
