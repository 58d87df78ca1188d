//! A compressed sparse row matrix of `f32`: the user-item interaction matrix every recipe
//! trains from.

/// Rows are users (or items, transposed), columns the other side; `data` holds weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Csr {
    /// Row `r` is `indices[indptr[r]..indptr[r + 1]]`; `indptr.len() == nrows + 1`.
    pub indptr: Vec<usize>,
    /// Column indices, sorted and unique within each row.
    pub indices: Vec<u32>,
    /// Values, parallel to `indices`.
    pub data: Vec<f32>,
    /// Number of columns.
    pub ncols: usize,
}

impl Csr {
    /// Builds a matrix from `(row, col, value)` triplets in any order; duplicates are summed.
    pub fn from_triplets(nrows: usize, ncols: usize, triplets: &[(u32, u32, f32)]) -> Csr {
        let mut counts = vec![0usize; nrows + 1];
        for &(r, _, _) in triplets {
            counts[r as usize + 1] += 1;
        }
        for i in 0..nrows {
            counts[i + 1] += counts[i];
        }
        let mut next = counts.clone();
        let mut cols = vec![0u32; triplets.len()];
        let mut vals = vec![0f32; triplets.len()];
        for &(r, c, v) in triplets {
            let slot = &mut next[r as usize];
            cols[*slot] = c;
            vals[*slot] = v;
            *slot += 1;
        }
        // Sort each row by column and sum duplicates.
        let mut indptr = Vec::with_capacity(nrows + 1);
        let mut indices = Vec::with_capacity(triplets.len());
        let mut data = Vec::with_capacity(triplets.len());
        indptr.push(0);
        let mut pairs: Vec<(u32, f32)> = Vec::new();
        for r in 0..nrows {
            pairs.clear();
            pairs.extend(
                cols[counts[r]..counts[r + 1]]
                    .iter()
                    .copied()
                    .zip(vals[counts[r]..counts[r + 1]].iter().copied()),
            );
            pairs.sort_unstable_by_key(|p| p.0);
            for &(c, v) in &pairs {
                if indices.len() > indptr[r] && *indices.last().expect("non-empty") == c {
                    *data.last_mut().expect("non-empty") += v;
                } else {
                    indices.push(c);
                    data.push(v);
                }
            }
            indptr.push(indices.len());
        }
        Csr {
            indptr,
            indices,
            data,
            ncols,
        }
    }

    /// Number of rows.
    pub fn nrows(&self) -> usize {
        self.indptr.len() - 1
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Row `r`: its column indices and values.
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.indptr[r], self.indptr[r + 1]);
        (&self.indices[a..b], &self.data[a..b])
    }

    /// The transpose (items x users from users x items).
    pub fn transpose(&self) -> Csr {
        let mut counts = vec![0usize; self.ncols + 1];
        for &c in &self.indices {
            counts[c as usize + 1] += 1;
        }
        for i in 0..self.ncols {
            counts[i + 1] += counts[i];
        }
        let mut next = counts.clone();
        let mut indices = vec![0u32; self.nnz()];
        let mut data = vec![0f32; self.nnz()];
        for r in 0..self.nrows() {
            let (cols, vals) = self.row(r);
            for (&c, &v) in cols.iter().zip(vals) {
                let slot = &mut next[c as usize];
                indices[*slot] = r as u32;
                data[*slot] = v;
                *slot += 1;
            }
        }
        Csr {
            indptr: counts,
            indices,
            data,
            ncols: self.nrows(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triplets_are_sorted_and_summed_and_transpose_round_trips() {
        let m = Csr::from_triplets(2, 3, &[(1, 2, 1.0), (0, 1, 2.0), (1, 0, 3.0), (1, 2, 0.5)]);
        assert_eq!(m.row(0), (&[1u32][..], &[2.0f32][..]));
        assert_eq!(m.row(1), (&[0u32, 2][..], &[3.0f32, 1.5][..]));
        let t = m.transpose();
        assert_eq!(t.nrows(), 3);
        assert_eq!(t.row(2), (&[1u32][..], &[1.5f32][..]));
        assert_eq!(t.transpose(), m);
    }
}
