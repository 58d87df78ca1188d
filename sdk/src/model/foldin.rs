//! The exact iALS user solve, used to fold a user in from any history at request time:
//! `(YᵀY + Σ_i (c_i − 1) y_i y_iᵀ + λI) x = Σ_i c_i y_i` with `c_i = 1 + α w_i`, solved by a
//! dense Cholesky factorization in `f64`. Hand-written because `d` is small (<= 256) and the
//! request path wants no allocation beyond the one `d × d` buffer.

/// Solves for the user vector. `items` is the item factor matrix (row-major, `d` columns),
/// `gram` is YᵀY (`d × d`), `history` pairs item indices with interaction weights. An empty
/// history gives the zero vector.
pub fn solve_user(
    items: &[f32],
    gram: &[f32],
    d: usize,
    regularization: f32,
    alpha: f32,
    history: &[(u32, f32)],
) -> Vec<f32> {
    let mut x = vec![0f32; d];
    if history.is_empty() {
        return x;
    }
    let mut a: Vec<f64> = gram.iter().map(|&v| f64::from(v)).collect();
    let mut b = vec![0f64; d];
    for i in 0..d {
        a[i * d + i] += f64::from(regularization);
    }
    for &(item, w) in history {
        let y = &items[item as usize * d..(item as usize + 1) * d];
        let c = 1.0 + f64::from(alpha) * f64::from(w.max(0.0));
        for r in 0..d {
            let yr = f64::from(y[r]);
            b[r] += c * yr;
            let scaled = (c - 1.0) * yr;
            let row = &mut a[r * d..r * d + r + 1];
            for (cell, &yc) in row.iter_mut().zip(y) {
                *cell += scaled * f64::from(yc);
            }
        }
    }
    // Cholesky on the lower triangle: A = L Lᵀ, in place.
    for j in 0..d {
        let mut diag = a[j * d + j];
        for k in 0..j {
            diag -= a[j * d + k] * a[j * d + k];
        }
        let diag = diag.max(1e-12).sqrt();
        a[j * d + j] = diag;
        for i in j + 1..d {
            let mut v = a[i * d + j];
            for k in 0..j {
                v -= a[i * d + k] * a[j * d + k];
            }
            a[i * d + j] = v / diag;
        }
    }
    // Forward then backward substitution.
    for i in 0..d {
        let mut v = b[i];
        for k in 0..i {
            v -= a[i * d + k] * b[k];
        }
        b[i] = v / a[i * d + i];
    }
    for i in (0..d).rev() {
        let mut v = b[i];
        for k in i + 1..d {
            v -= a[k * d + i] * b[k];
        }
        b[i] = v / a[i * d + i];
    }
    for (xi, bi) in x.iter_mut().zip(&b) {
        *xi = *bi as f32;
    }
    x
}

/// `YᵀY` for a row-major item factor matrix with `d` columns.
pub fn gram(items: &[f32], d: usize) -> Vec<f32> {
    let mut g = vec![0f64; d * d];
    for y in items.chunks_exact(d) {
        for r in 0..d {
            let yr = f64::from(y[r]);
            for c in 0..=r {
                g[r * d + c] += yr * f64::from(y[c]);
            }
        }
    }
    let mut out = vec![0f32; d * d];
    for r in 0..d {
        for c in 0..=r {
            out[r * d + c] = g[r * d + c] as f32;
            out[c * d + r] = g[r * d + c] as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_small_system_exactly() {
        // Two items in 2-D; the solution must satisfy A x = b.
        let items = [1.0f32, 0.0, 0.5, 1.0];
        let d = 2;
        let g = gram(&items, d);
        let (reg, alpha) = (0.1f32, 2.0f32);
        let hist = [(0u32, 1.0f32), (1, 3.0)];
        let x = solve_user(&items, &g, d, reg, alpha, &hist);
        // Build A and b directly.
        let mut a = [[0f64; 2]; 2];
        let mut b = [0f64; 2];
        for (i, row) in a.iter_mut().enumerate() {
            for (j, cell) in row.iter_mut().enumerate() {
                *cell = f64::from(g[i * 2 + j]) + if i == j { 0.1 } else { 0.0 };
            }
        }
        for &(it, w) in &hist {
            let y = &items[it as usize * 2..it as usize * 2 + 2];
            let c = 1.0 + 2.0 * f64::from(w);
            for i in 0..2 {
                b[i] += c * f64::from(y[i]);
                for j in 0..2 {
                    a[i][j] += (c - 1.0) * f64::from(y[i]) * f64::from(y[j]);
                }
            }
        }
        for i in 0..2 {
            let lhs = a[i][0] * f64::from(x[0]) + a[i][1] * f64::from(x[1]);
            assert!((lhs - b[i]).abs() < 1e-4, "row {i}: {lhs} vs {}", b[i]);
        }
        assert_eq!(solve_user(&items, &g, d, reg, alpha, &[]), vec![0.0, 0.0]);
    }
}
