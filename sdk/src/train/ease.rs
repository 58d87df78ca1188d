//! EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"): a closed-form
//! item-item model for Personalized-Ranking on catalogs of up to tens of thousands of items.
//!
//! With `X` the users x items matrix (binary or weighted) and `λ` the L2 penalty:
//!
//! ```text
//! G = XᵀX + λI,   P = G⁻¹,   B = I − P · diag(1 / diag(P))   (so B_ij = −P_ij / P_jj, B_jj = 0)
//! score(user, j) = Σ_i x_ui · B_ij
//! ```
//!
//! `G` is accumulated from the sparse rows (each user adds `x_ui · x_uj` for every pair of their
//! items), then Cholesky-factored and inverted in `f64` with faer (`P = L⁻ᵀ L⁻¹`); `B` is stored
//! in `f32`. Time grows as `m³` and memory peaks at `2 m²` `f64` for the `m` items solved for,
//! hence [`EaseParams::max_items`]. The model needs no per-user state: a user's scores come from
//! their history alone, real-time events included.
//!
//! Only items with at least [`EaseParams::min_users`] users are solved for; every other item's
//! row and column of `B` is zero (it neither scores nor contributes). On MovieLens
//! ml-latest-small this leaves 3,300 of 9,724 items at the default of 5 and is as accurate as the
//! full solve under the Personalize protocol (`benches/quality`), at about a twentieth of the
//! time: rare items are seldom the next item, and `λ` shrinks their weights towards 0 anyway.

use std::thread;

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch};
use faer::linalg::matmul::triangular::{matmul, BlockStructure};
use faer::linalg::triangular_inverse::invert_lower_triangular;
use faer::{Accum, MatMut, MatRef, Par};

use super::matrix::Csr;

/// EASE hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct EaseParams {
    /// L2 penalty `λ` added to the Gram matrix's diagonal; larger values shrink the weights of
    /// rare items. Must be positive and finite.
    pub lambda: f32,
    /// Training refuses catalogs with more items (the model's `B` is dense: `4 n²` bytes).
    pub max_items: usize,
    /// Items with fewer users (stored entries in their column) are left out of the solve; 0 and
    /// 1 keep every item that has one.
    pub min_users: usize,
    /// Worker threads; 0 means every available core.
    pub threads: usize,
}

impl Default for EaseParams {
    /// `λ = 100` and items with at least 5 users: the best of a grid (`λ` 100-500, at least 3,
    /// 5 or 10 users) on MovieLens (ml-latest-small) under the Personalize protocol, on
    /// validation splits carved from the training users of 10 user folds: NDCG@10 0.086,
    /// NDCG@25 0.113, MRR@25 0.175, the same as EASE on every item (`benches/quality/README.md`).
    fn default() -> EaseParams {
        EaseParams {
            lambda: 100.0,
            max_items: 20_000,
            min_users: 5,
            threads: 0,
        }
    }
}

/// A trained EASE model.
#[derive(Debug, Clone, PartialEq)]
pub struct Ease {
    /// Number of items (the matrix's columns).
    pub n_items: usize,
    /// `B`, `n_items x n_items`, row-major: `b[i * n_items + j]` is the weight of history item
    /// `i` in the score of item `j`. The diagonal is zero.
    pub b: Vec<f32>,
}

/// Trains EASE on a users x items matrix, solving for the items with at least
/// [`EaseParams::min_users`] users (the others get zero rows and columns in `B`).
///
/// Fails, with a message for [`crate::Error::InvalidInput`], when `lambda` is not positive and
/// finite or the matrix has more than `max_items` columns.
pub fn train(user_items: &Csr, params: &EaseParams) -> Result<Ease, String> {
    let n = user_items.ncols;
    if !(params.lambda.is_finite() && params.lambda > 0.0) {
        return Err(format!(
            "lambda must be positive and finite, got {}",
            params.lambda
        ));
    }
    if n > params.max_items {
        return Err(format!(
            "EASE supports at most {} items, the data has {n}",
            params.max_items
        ));
    }
    let mut users = vec![0usize; n];
    for &j in &user_items.indices {
        users[j as usize] += 1;
    }
    let kept: Vec<u32> = (0..n as u32)
        .filter(|&j| users[j as usize] >= params.min_users.max(1))
        .collect();
    if kept.len() == n {
        return solve(user_items, params);
    }
    // Solve on the kept columns, renumbered, then spread B back over the whole catalog.
    let mut new_id = vec![u32::MAX; n];
    for (k, &j) in kept.iter().enumerate() {
        new_id[j as usize] = k as u32;
    }
    let mut indptr = Vec::with_capacity(user_items.nrows() + 1);
    let (mut indices, mut data) = (Vec::new(), Vec::new());
    indptr.push(0);
    for u in 0..user_items.nrows() {
        let (cols, vals) = user_items.row(u);
        for (&j, &w) in cols.iter().zip(vals) {
            let k = new_id[j as usize];
            if k != u32::MAX {
                indices.push(k);
                data.push(w);
            }
        }
        indptr.push(indices.len());
    }
    let sub = Csr {
        indptr,
        indices,
        data,
        ncols: kept.len(),
    };
    let small = solve(&sub, params)?;
    let m = kept.len();
    let mut b = vec![0f32; n * n];
    for (k, &i) in kept.iter().enumerate() {
        let row = &mut b[i as usize * n..(i as usize + 1) * n];
        for (&j, &v) in kept.iter().zip(&small.b[k * m..(k + 1) * m]) {
            row[j as usize] = v;
        }
    }
    Ok(Ease { n_items: n, b })
}

/// EASE on every column of `user_items`.
fn solve(user_items: &Csr, params: &EaseParams) -> Result<Ease, String> {
    let n = user_items.ncols;
    if !(params.lambda.is_finite() && params.lambda > 0.0) {
        return Err(format!(
            "lambda must be positive and finite, got {}",
            params.lambda
        ));
    }
    if n > params.max_items {
        return Err(format!(
            "EASE supports at most {} items, the data has {n}",
            params.max_items
        ));
    }
    let threads = thread_count(params.threads);
    let par = if threads > 1 {
        Par::rayon(threads)
    } else {
        Par::Seq
    };

    // G = XᵀX + λI, lower triangle, column-major.
    let mut g = gram_lower(user_items, threads);
    for j in 0..n {
        g[j * n + j] += f64::from(params.lambda);
    }

    invert_spd(&mut g, n, par)?;
    let diag: Vec<f64> = (0..n).map(|j| g[j * n + j]).collect();

    // B_ij = −P_ij / P_jj; row i of B is column i of the symmetric P, scaled per column.
    let mut b = vec![0f32; n * n];
    if n > 0 {
        let rows_per = n.div_ceil(threads);
        thread::scope(|s| {
            for (chunk, out) in b.chunks_mut(rows_per * n).enumerate() {
                let (g, diag) = (&g, &diag);
                s.spawn(move || {
                    for (r, row) in out.chunks_mut(n).enumerate() {
                        let i = chunk * rows_per + r;
                        let p = &g[i * n..(i + 1) * n];
                        for (j, (dst, &pij)) in row.iter_mut().zip(p).enumerate() {
                            *dst = if i == j { 0.0 } else { (-pij / diag[j]) as f32 };
                        }
                    }
                });
            }
        });
    }
    Ok(Ease { n_items: n, b })
}

/// Replaces the symmetric positive definite `n x n` matrix whose lower triangle `g` holds
/// (column-major) by its whole inverse: `G = L Lᵀ` (Cholesky, in place), then
/// `G⁻¹ = L⁻ᵀ L⁻¹`, mirrored onto the upper triangle.
pub(crate) fn invert_spd(g: &mut [f64], n: usize, par: Par) -> Result<(), String> {
    // G = L Lᵀ, L in place of G's lower triangle.
    {
        let mat = MatMut::from_column_major_slice_mut(g, n, n);
        let mut scratch =
            MemBuffer::new(cholesky_in_place_scratch::<f64>(n, par, Default::default()));
        cholesky_in_place(
            mat,
            Default::default(),
            par,
            MemStack::new(&mut scratch),
            Default::default(),
        )
        .map_err(|e| format!("the regularized Gram matrix is not positive definite: {e}"))?;
    }
    // P = L⁻ᵀ L⁻¹, lower triangle, written over L.
    {
        let mut linv = vec![0f64; n * n];
        invert_lower_triangular(
            MatMut::from_column_major_slice_mut(&mut linv, n, n),
            MatRef::from_column_major_slice(g, n, n),
            par,
        );
        let l = MatRef::from_column_major_slice(&linv, n, n);
        matmul(
            MatMut::from_column_major_slice_mut(g, n, n),
            BlockStructure::TriangularLower,
            Accum::Replace,
            l.transpose(),
            BlockStructure::TriangularUpper,
            l,
            BlockStructure::TriangularLower,
            1.0f64,
            par,
        );
    }
    symmetrize_from_lower(g, n);
    Ok(())
}

impl Ease {
    /// Scores `candidates` for a user with `history` (`(item, weight)` pairs, weight 1.0 for
    /// plain interactions): `out[k] = Σ weight · B[item][candidates[k]]`. History items and
    /// candidates outside the model contribute and score 0.
    ///
    /// # Panics
    /// If `out` is shorter than `candidates`.
    pub fn score_into(&self, history: &[(u32, f32)], candidates: &[u32], out: &mut [f32]) {
        let n = self.n_items;
        let out = &mut out[..candidates.len()];
        out.fill(0.0);
        for &(i, w) in history {
            let i = i as usize;
            if i >= n {
                continue;
            }
            let row = &self.b[i * n..(i + 1) * n];
            for (dst, &c) in out.iter_mut().zip(candidates) {
                if let Some(&bij) = row.get(c as usize) {
                    *dst += w * bij;
                }
            }
        }
    }

    /// The `n` best-scoring items for a user with `history`, excluding the items in `exclude`
    /// (pass the history's items there to recommend only unseen ones), by score descending,
    /// ties by item index ascending.
    pub fn top_n(&self, history: &[(u32, f32)], n: usize, exclude: &[u32]) -> Vec<(u32, f32)> {
        let m = self.n_items;
        let mut scores = vec![0f32; m];
        for &(i, w) in history {
            let i = i as usize;
            if i >= m {
                continue;
            }
            for (dst, &bij) in scores.iter_mut().zip(&self.b[i * m..(i + 1) * m]) {
                *dst += w * bij;
            }
        }
        let mut keep = vec![true; m];
        for &e in exclude {
            if let Some(k) = keep.get_mut(e as usize) {
                *k = false;
            }
        }
        let mut ranked: Vec<(u32, f32)> = (0..m as u32)
            .filter(|&j| keep[j as usize])
            .map(|j| (j, scores[j as usize]))
            .collect();
        top_by_score(&mut ranked, n);
        ranked
    }
}

/// Keeps the `n` best `(item, score)` pairs, by score descending then item ascending.
pub(crate) fn top_by_score(pairs: &mut Vec<(u32, f32)>, n: usize) {
    let cmp = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if pairs.len() > n && n > 0 {
        pairs.select_nth_unstable_by(n - 1, cmp);
    }
    pairs.truncate(n);
    pairs.sort_unstable_by(cmp);
}

/// `threads`, or the available parallelism when 0.
pub(crate) fn thread_count(threads: usize) -> usize {
    if threads > 0 {
        threads
    } else {
        thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// `XᵀX` as an `n x n` column-major buffer with the lower triangle (row >= column) filled.
///
/// Threads own disjoint column ranges chosen to balance the pair count; each scans every user
/// and adds the pairs whose column falls in its range, so the result does not depend on the
/// thread count.
pub(crate) fn gram_lower(x: &Csr, threads: usize) -> Vec<f64> {
    let n = x.ncols;
    let mut g = vec![0f64; n * n];
    if n == 0 {
        return g;
    }
    // Work of column j: Σ over users with j of the number of their items >= j.
    let mut cost = vec![0u64; n];
    for u in 0..x.nrows() {
        let (items, _) = x.row(u);
        for (p, &j) in items.iter().enumerate() {
            cost[j as usize] += (items.len() - p) as u64;
        }
    }
    let total: u64 = cost.iter().sum();
    let mut bounds = vec![0usize];
    let mut acc = 0u64;
    for (j, &c) in cost.iter().enumerate() {
        acc += c;
        let want = bounds.len() as u64 * total / threads as u64;
        if acc >= want && bounds.len() < threads && j + 1 < n {
            bounds.push(j + 1);
        }
    }
    bounds.push(n);
    bounds.dedup();

    thread::scope(|s| {
        let mut rest: &mut [f64] = &mut g;
        for w in bounds.windows(2) {
            let (c0, c1) = (w[0], w[1]);
            let (mine, tail) = rest.split_at_mut((c1 - c0) * n);
            rest = tail;
            s.spawn(move || {
                for u in 0..x.nrows() {
                    let (items, vals) = x.row(u);
                    let lo = items.partition_point(|&j| (j as usize) < c0);
                    let hi = items.partition_point(|&j| (j as usize) < c1);
                    for p in lo..hi {
                        let j = items[p] as usize;
                        let wj = f64::from(vals[p]);
                        let col = &mut mine[(j - c0) * n..(j - c0 + 1) * n];
                        for q in p..items.len() {
                            col[items[q] as usize] += wj * f64::from(vals[q]);
                        }
                    }
                }
            });
        }
    });
    g
}

/// Copies the lower triangle of a column-major `n x n` buffer onto its upper triangle, in tiles.
pub(crate) fn symmetrize_from_lower(g: &mut [f64], n: usize) {
    const T: usize = 64;
    for jb in (0..n).step_by(T) {
        for ib in (jb..n).step_by(T) {
            for j in jb..(jb + T).min(n) {
                for i in ib.max(j + 1)..(ib + T).min(n) {
                    // Lower element (i, j) at j*n+i goes to upper (j, i) at i*n+j.
                    g[i * n + j] = g[j * n + i];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(lambda: f32, threads: usize) -> EaseParams {
        EaseParams {
            lambda,
            max_items: 1000,
            min_users: 0,
            threads,
        }
    }

    /// Items 0 and 1 always go together, so do 2 and 3; item 4 is everywhere; item 5 is never
    /// seen.
    fn paired() -> Csr {
        let mut t = Vec::new();
        for u in 0..40u32 {
            let pair = if u % 2 == 0 { [0, 1] } else { [2, 3] };
            for i in pair {
                t.push((u, i, 1.0));
            }
            if u % 3 == 0 {
                t.push((u, 4, 1.0));
            }
        }
        Csr::from_triplets(40, 6, &t)
    }

    /// Gauss-Jordan inverse of a small dense row-major matrix, for reference.
    fn inverse(mut a: Vec<f64>, n: usize) -> Vec<f64> {
        let mut inv = vec![0f64; n * n];
        for i in 0..n {
            inv[i * n + i] = 1.0;
        }
        for c in 0..n {
            let piv = (c..n)
                .max_by(|&x, &y| a[x * n + c].abs().total_cmp(&a[y * n + c].abs()))
                .expect("non-empty");
            for k in 0..n {
                a.swap(c * n + k, piv * n + k);
                inv.swap(c * n + k, piv * n + k);
            }
            let d = a[c * n + c];
            for k in 0..n {
                a[c * n + k] /= d;
                inv[c * n + k] /= d;
            }
            for r in 0..n {
                if r != c {
                    let f = a[r * n + c];
                    for k in 0..n {
                        a[r * n + k] -= f * a[c * n + k];
                        inv[r * n + k] -= f * inv[c * n + k];
                    }
                }
            }
        }
        inv
    }

    fn random_matrix(users: u32, items: u32, seed: u64) -> Csr {
        let mut state = seed;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u32
        };
        let mut t = Vec::new();
        for u in 0..users {
            for _ in 0..(1 + next() % 12) {
                // Skewed towards low item indices, with weights in 1..=3.
                let i = (next() % items).min(next() % items);
                t.push((u, i, 1.0 + (next() % 3) as f32));
            }
        }
        Csr::from_triplets(users as usize, items as usize, &t)
    }

    #[test]
    fn matches_the_closed_form_on_a_random_matrix() {
        let x = random_matrix(60, 70, 7);
        let n = x.ncols;
        let lambda = 5.0;
        let mut g = vec![0f64; n * n];
        for u in 0..x.nrows() {
            let (items, vals) = x.row(u);
            for (&i, &wi) in items.iter().zip(vals) {
                for (&j, &wj) in items.iter().zip(vals) {
                    g[i as usize * n + j as usize] += f64::from(wi) * f64::from(wj);
                }
            }
        }
        for j in 0..n {
            g[j * n + j] += lambda;
        }
        let p = inverse(g, n);
        for threads in [1, 2, 3] {
            let model = train(&x, &params(lambda as f32, threads)).expect("trains");
            assert_eq!(model.n_items, n);
            for i in 0..n {
                for j in 0..n {
                    let want = if i == j {
                        0.0
                    } else {
                        -p[i * n + j] / p[j * n + j]
                    };
                    let got = f64::from(model.b[i * n + j]);
                    assert!(
                        (got - want).abs() < 1e-5 * (1.0 + want.abs()),
                        "B[{i}][{j}] = {got}, want {want} ({threads} threads)"
                    );
                }
            }
        }
    }

    #[test]
    fn rare_items_are_left_out_of_the_solve() {
        let x = random_matrix(60, 70, 11);
        let mut users = vec![0usize; x.ncols];
        for &j in &x.indices {
            users[j as usize] += 1;
        }
        let min_users = 5;
        let kept: Vec<usize> = (0..x.ncols).filter(|&j| users[j] >= min_users).collect();
        assert!(kept.len() > 10 && kept.len() < x.ncols, "{}", kept.len());
        let pruned = train(
            &x,
            &EaseParams {
                min_users,
                ..params(5.0, 2)
            },
        )
        .expect("trains");
        // The same as EASE on the kept columns alone, spread over the catalog.
        let t: Vec<(u32, u32, f32)> = (0..x.nrows())
            .flat_map(|u| {
                let (cols, vals) = x.row(u);
                cols.iter()
                    .zip(vals)
                    .filter_map(|(&j, &w)| {
                        let k = kept.iter().position(|&c| c == j as usize)?;
                        Some((u as u32, k as u32, w))
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let sub = train(
            &Csr::from_triplets(x.nrows(), kept.len(), &t),
            &params(5.0, 1),
        )
        .expect("trains");
        let (n, m) = (x.ncols, kept.len());
        assert_eq!(pruned.n_items, n);
        for i in 0..n {
            for j in 0..n {
                let want = match (
                    kept.iter().position(|&c| c == i),
                    kept.iter().position(|&c| c == j),
                ) {
                    (Some(a), Some(b)) => sub.b[a * m + b],
                    _ => 0.0,
                };
                let got = pruned.b[i * n + j];
                assert!(
                    (got - want).abs() <= 1e-6 * (1.0 + want.abs()),
                    "B[{i}][{j}] {got} {want}"
                );
                if want == 0.0 {
                    assert_eq!(got, 0.0, "B[{i}][{j}]");
                }
            }
        }
    }

    #[test]
    fn diagonal_is_zero_and_pairs_are_recovered() {
        let model = train(&paired(), &params(1.0, 2)).expect("trains");
        let n = model.n_items;
        for i in 0..n {
            assert_eq!(model.b[i * n + i], 0.0);
        }
        let b = |i: usize, j: usize| model.b[i * n + j];
        assert!(b(0, 1) > 0.5, "B[0][1] = {}", b(0, 1));
        assert!(b(0, 1) > b(0, 2) && b(0, 1) > b(0, 3) && b(0, 1) > b(0, 4));
        assert!(b(2, 3) > b(2, 0) && b(2, 3) > b(2, 1));
        // The unseen item has no weight either way.
        for i in 0..n {
            assert_eq!(b(i, 5), 0.0);
            assert_eq!(b(5, i), 0.0);
        }
    }

    #[test]
    fn ranks_co_consumed_items_first() {
        let model = train(&paired(), &params(1.0, 1)).expect("trains");
        let top = model.top_n(&[(0, 1.0)], 3, &[0]);
        assert_eq!(top[0].0, 1);
        assert!(top.iter().all(|&(i, _)| i != 0));
        assert!(top.windows(2).all(|w| w[0].1 >= w[1].1));
        let top = model.top_n(&[(3, 1.0), (4, 1.0)], 2, &[3, 4]);
        assert_eq!(top[0].0, 2);

        let candidates = [5, 3, 1, 2, 99];
        let mut out = [f32::NAN; 5];
        model.score_into(&[(0, 1.0)], &candidates, &mut out);
        assert_eq!(out[0], 0.0);
        assert_eq!(out[4], 0.0);
        assert!(out[2] > out[1] && out[2] > out[3], "{out:?}");
        assert_eq!(model.top_n(&[(1, 1.0)], 0, &[]), vec![]);
        assert_eq!(model.top_n(&[(1, 1.0)], 100, &[]).len(), 6);
    }

    /// EASE on MovieLens (all items in release builds, the 400 most popular in debug ones, where
    /// faer is unoptimized): prints the training time, and checks that a user's held-out items
    /// (the last 10% of their timeline) are hit in their top 10 more often than by popularity.
    #[test]
    fn movielens_beats_popularity() {
        use crate::train::popularity;
        use crate::train::sims::movielens::{self, MovieLens};
        let Some(ml) = movielens::load() else { return };
        let (histories, full) = ml.training();
        let pop = popularity::train(&full);
        let keep = if cfg!(debug_assertions) {
            400
        } else {
            full.ncols
        };
        // Items renumbered by popularity; the rest dropped.
        let mut new_id = vec![u32::MAX; full.ncols];
        for (rank, &i) in pop.order.iter().take(keep).enumerate() {
            new_id[i as usize] = rank as u32;
        }
        let t: Vec<(u32, u32, f32)> = histories
            .iter()
            .enumerate()
            .flat_map(|(u, h)| h.iter().map(move |&i| (u as u32, i, 1.0)))
            .filter(|p| new_id[p.1 as usize] != u32::MAX)
            .map(|(u, i, w)| (u, new_id[i as usize], w))
            .collect();
        let x = Csr::from_triplets(histories.len(), keep, &t);
        let started = std::time::Instant::now();
        let model = train(&x, &EaseParams::default()).expect("trains");
        let took = started.elapsed();
        let (mut ease_hits, mut pop_hits) = (0, 0);
        for (u, h) in ml.histories.iter().enumerate() {
            let (seen, _) = x.row(u);
            let history: Vec<(u32, f32)> = seen.iter().map(|&i| (i, 1.0)).collect();
            let held_out: Vec<u32> = h[MovieLens::train_len(h)..]
                .iter()
                .map(|p| new_id[p.1 as usize])
                .collect();
            let top = model.top_n(&history, 10, seen);
            ease_hits += usize::from(top.iter().any(|p| held_out.contains(&p.0)));
            let popular = (0..keep as u32).filter(|i| !seen.contains(i)).take(10);
            pop_hits += usize::from(popular.into_iter().any(|i| held_out.contains(&i)));
        }
        let users = ml.histories.len() as f64;
        let (ease_hr, pop_hr) = (ease_hits as f64 / users, pop_hits as f64 / users);
        println!(
            "EASE on MovieLens, {keep} items: trained in {took:?}; held-out hit rate @10 {ease_hr:.4}, \
             popularity {pop_hr:.4}"
        );
        assert!(ease_hr > pop_hr, "{ease_hr} <= {pop_hr}");
    }

    #[test]
    fn refuses_bad_parameters_and_large_catalogs() {
        let x = paired();
        let err = train(&x, &params(0.0, 1)).expect_err("lambda 0");
        assert!(err.contains("lambda"), "{err}");
        let err = train(&x, &params(f32::NAN, 1)).expect_err("lambda NaN");
        assert!(err.contains("lambda"), "{err}");
        let small = EaseParams {
            max_items: 5,
            ..params(1.0, 1)
        };
        let err = train(&x, &small).expect_err("6 items > 5");
        assert_eq!(err, "EASE supports at most 5 items, the data has 6");
        let empty = train(&Csr::from_triplets(0, 0, &[]), &params(1.0, 2)).expect("empty");
        assert_eq!(empty.n_items, 0);
    }
}
