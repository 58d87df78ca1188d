//! Popularity-Count (`aws-popularity-count`): "the most popular items are the items with the
//! most interactions data from unique users". The same list for everyone: the recipe itself,
//! the fallback for unknown users and items, and the evaluation baseline.

use super::matrix::Csr;

/// A trained popularity model.
#[derive(Debug, Clone, PartialEq)]
pub struct Popularity {
    /// Distinct users per item (the number of stored entries in the item's column).
    pub counts: Vec<u32>,
    /// Every item index, by count descending, ties by item index ascending.
    pub order: Vec<u32>,
}

/// Counts the distinct users of every item of a users x items matrix.
///
/// `Csr` rows hold each column at most once, so a column's entry count is its distinct users;
/// the weights are ignored.
pub fn train(user_items: &Csr) -> Popularity {
    let mut counts = vec![0u32; user_items.ncols];
    for &item in &user_items.indices {
        counts[item as usize] += 1;
    }
    Popularity::from_counts(counts)
}

/// Distinct users per item and event type, from `(user, item, event_type)` rows (duplicates
/// allowed): the result is indexed `[event_type][item]`. Rows whose item or event type is out of
/// range are ignored.
pub fn counts_by_event_type(
    rows: impl IntoIterator<Item = (u32, u32, u16)>,
    n_items: usize,
    n_types: usize,
) -> Vec<Vec<u32>> {
    let mut keys: Vec<(u16, u32, u32)> = rows
        .into_iter()
        .filter(|&(_, item, ty)| (item as usize) < n_items && (ty as usize) < n_types)
        .map(|(user, item, ty)| (ty, item, user))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut counts = vec![vec![0u32; n_items]; n_types];
    for (ty, item, _) in keys {
        counts[ty as usize][item as usize] += 1;
    }
    counts
}

impl Popularity {
    /// A model from per-item counts (for instance one row of [`counts_by_event_type`]).
    pub fn from_counts(counts: Vec<u32>) -> Popularity {
        let mut order: Vec<u32> = (0..counts.len() as u32).collect();
        // Stable sort on the count alone keeps ties in index order.
        order.sort_by_key(|&item| std::cmp::Reverse(counts[item as usize]));
        Popularity { counts, order }
    }

    /// The count of `item`, 0 for an item outside the model.
    pub fn count(&self, item: u32) -> u32 {
        self.counts.get(item as usize).copied().unwrap_or(0)
    }

    /// The `n` most popular items not in `exclude`, most popular first.
    pub fn top_n(&self, n: usize, exclude: &[u32]) -> Vec<u32> {
        let mut excluded = exclude.to_vec();
        excluded.sort_unstable();
        self.order
            .iter()
            .copied()
            .filter(|item| excluded.binary_search(item).is_err())
            .take(n)
            .collect()
    }

    /// `candidates` reordered by count descending; ties (and items outside the model, which
    /// count 0) keep their input order.
    pub fn rank(&self, candidates: &[u32]) -> Vec<u32> {
        let mut ranked = candidates.to_vec();
        ranked.sort_by_key(|&item| std::cmp::Reverse(self.count(item)));
        ranked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix() -> Csr {
        // Item 2: 3 users; items 0 and 3: 2 users each; item 1: 1 user; item 4: none.
        // The weight 5.0 must not count more than once.
        Csr::from_triplets(
            4,
            5,
            &[
                (0, 2, 5.0),
                (1, 2, 1.0),
                (2, 2, 1.0),
                (0, 0, 1.0),
                (1, 3, 1.0),
                (3, 0, 1.0),
                (3, 3, 1.0),
                (2, 1, 1.0),
                (2, 1, 1.0),
            ],
        )
    }

    #[test]
    fn order_is_by_distinct_users_then_index() {
        let p = train(&matrix());
        assert_eq!(p.counts, vec![2, 1, 3, 2, 0]);
        assert_eq!(p.order, vec![2, 0, 3, 1, 4]);
        assert_eq!(p.top_n(3, &[]), vec![2, 0, 3]);
        assert_eq!(p.top_n(3, &[0, 2]), vec![3, 1, 4]);
        assert_eq!(p.top_n(10, &[]).len(), 5);
    }

    #[test]
    fn rank_is_stable_and_puts_unknown_items_last() {
        let p = train(&matrix());
        assert_eq!(p.rank(&[4, 3, 99, 0, 2, 1]), vec![2, 3, 0, 1, 4, 99]);
        assert_eq!(p.rank(&[0, 3]), vec![0, 3]);
        assert_eq!(p.rank(&[3, 0]), vec![3, 0]);
    }

    #[test]
    fn counts_by_event_type_counts_distinct_users() {
        let rows = [
            (0, 1, 0),
            (0, 1, 0), // a repeat of the same user
            (1, 1, 0),
            (0, 1, 1),
            (2, 0, 1),
            (2, 9, 1), // item out of range
            (2, 0, 7), // type out of range
        ];
        let c = counts_by_event_type(rows, 2, 2);
        assert_eq!(c, vec![vec![0, 2], vec![1, 1]]);
        assert_eq!(Popularity::from_counts(c[0].clone()).order, vec![1, 0]);
    }
}
