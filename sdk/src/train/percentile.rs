//! Personalize's featurization percentiles (`min_user_history_length_percentile`,
//! `max_item_interaction_count_percentile`, ...): users (or items) whose count lies below the
//! `min` or above the `max` percentile of the counts are left out of fitting.
//!
//! A percentile `p` is read as the **nearest-rank quantile** `Q(p)`. With `L` the ascending
//! counts of the `n` users (items) that have at least one interaction, `Q(p) = L[k − 1]` where
//! `k = max(1, ⌈p · n⌉)`: `Q(0)` is the smallest count and `Q(1)` the largest. A user is kept
//! when `Q(min) ≤ count ≤ Q(max)`. Both thresholds are counts that occur, so a band never drops
//! every user, `[0, 1]` drops none, and ties are kept or dropped together. For example, with the
//! counts 1 to 10, `min = 0.2` keeps counts from `Q(0.2) = 2` and `max = 0.9` keeps counts up to
//! `Q(0.9) = 9`: the users with 1 and 10 interactions are left out. Those without any
//! interaction are outside the population and never dropped (they have nothing to fit).

use crate::error::{invalid, Result};

use super::data::TrainingData;
use super::hp::Hyperparameters;

/// A `[min, max]` band of percentiles, each in `[0, 1]`, `min <= max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PercentileBand {
    /// Counts below this percentile are dropped.
    pub min: f64,
    /// Counts above this percentile are dropped.
    pub max: f64,
}

impl Default for PercentileBand {
    /// `[0, 1]`: everyone is kept.
    fn default() -> PercentileBand {
        PercentileBand::ALL
    }
}

impl PercentileBand {
    /// `[0, 1]`: everyone is kept.
    pub const ALL: PercentileBand = PercentileBand { min: 0.0, max: 1.0 };

    /// Reads the pair `min_key`/`max_key` (defaults `[0, 1]`); a value outside `[0, 1]` is an
    /// error naming its key, `min > max` one naming both.
    pub(crate) fn read(
        hp: &mut Hyperparameters<'_>,
        min_key: &'static str,
        max_key: &'static str,
    ) -> Result<PercentileBand> {
        let min = exact(hp.float(min_key, &[], 0.0, 0.0, 1.0)?);
        let max = exact(hp.float(max_key, &[], 1.0, 0.0, 1.0)?);
        if min > max {
            return Err(invalid!(
                "hyperparameter {min_key} ({min}) must not exceed {max_key} ({max})"
            ));
        }
        Ok(PercentileBand { min, max })
    }

    /// Whether the band keeps every count.
    pub fn keeps_all(&self) -> bool {
        self.min <= 0.0 && self.max >= 1.0
    }

    /// The inclusive count thresholds `(Q(min), Q(max))` over the nonzero `counts`; `None` when
    /// no count is nonzero.
    pub fn thresholds(&self, counts: &[u32]) -> Option<(u32, u32)> {
        let mut sorted: Vec<u32> = counts.iter().copied().filter(|&c| c > 0).collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_unstable();
        Some((
            nearest_rank(&sorted, self.min),
            nearest_rank(&sorted, self.max),
        ))
    }

    /// Per entry of `counts`, whether the band keeps it: `Q(min) ≤ count ≤ Q(max)` over the
    /// nonzero counts; a zero count is always kept.
    pub fn keep(&self, counts: &[u32]) -> Vec<bool> {
        let Some((lo, hi)) = self.thresholds(counts).filter(|_| !self.keeps_all()) else {
            return vec![true; counts.len()];
        };
        counts
            .iter()
            .map(|&c| c == 0 || (lo..=hi).contains(&c))
            .collect()
    }
}

/// What the featurization bands leave out of fitting, for the users `keep` selects.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Bands {
    /// `keep` narrowed to the users inside the history-length band; `None` when the band drops
    /// nobody (fit on `keep` as it is).
    pub fit_users: Option<Vec<bool>>,
    /// Per item, whether the interaction-count band leaves it out; `None` when it leaves out
    /// none.
    pub excluded_items: Option<Vec<bool>>,
}

/// Applies the bands to `data`'s users selected by `keep` (all when `None`): a user's history
/// length and an item's interaction count are their numbers of events among those users (the
/// training data's events, after the solution's event filters), and the percentiles are taken
/// over the users (items) with at least one. Both bands read the same events, independently:
/// an item's count includes the events of users the history band drops.
pub(crate) fn apply(
    data: &TrainingData,
    keep: Option<&[bool]>,
    users: PercentileBand,
    items: PercentileBand,
) -> Bands {
    let kept = |u: u32| keep.is_none_or(|k| k[u as usize]);
    let mut out = Bands::default();
    if !users.keeps_all() {
        let mut lengths = vec![0u32; data.users.len()];
        for e in data.events.iter().filter(|e| kept(e.user)) {
            lengths[e.user as usize] += 1;
        }
        let inside = users.keep(&lengths);
        if inside.iter().any(|&k| !k) {
            out.fit_users = Some(
                inside
                    .iter()
                    .enumerate()
                    .map(|(u, &k)| k && kept(u as u32))
                    .collect(),
            );
        }
    }
    if !items.keeps_all() {
        let mut counts = vec![0u32; data.items.len()];
        for e in data.events.iter().filter(|e| kept(e.user)) {
            counts[e.item as usize] += 1;
        }
        let excluded: Vec<bool> = items.keep(&counts).iter().map(|&k| !k).collect();
        if excluded.iter().any(|&x| x) {
            out.excluded_items = Some(excluded);
        }
    }
    out
}

/// `Q(p)` of ascending, non-empty `sorted`: the `max(1, ⌈p·n⌉)`-th smallest. `p·n` is taken with
/// a tolerance far below any decimal percentile's step, so `0.07 · 100` is rank 7, not 8.
pub fn nearest_rank(sorted: &[u32], p: f64) -> u32 {
    let n = sorted.len();
    let rank = (p * n as f64 - 1e-9 * n as f64).ceil().max(1.0) as usize;
    sorted[rank.min(n) - 1]
}

/// The decimal a user wrote, as `f64`: `0.3` rather than the `f32` `0.30000001`.
fn exact(p: f32) -> f64 {
    p.to_string().parse().unwrap_or(f64::from(p))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn band(min: f64, max: f64) -> PercentileBand {
        PercentileBand { min, max }
    }

    /// Indices of the dropped entries.
    fn dropped(b: PercentileBand, counts: &[u32]) -> Vec<usize> {
        b.keep(counts)
            .iter()
            .enumerate()
            .filter(|(_, k)| !**k)
            .map(|(i, _)| i)
            .collect()
    }

    #[test]
    fn nearest_rank_quantiles_by_hand() {
        let one_to_ten: Vec<u32> = (1..=10).collect();
        for (p, q) in [
            (0.0, 1),
            (0.05, 1),
            (0.1, 1),
            (0.11, 2),
            (0.2, 2),
            (0.25, 3),
            (0.5, 5),
            (0.85, 9),
            (0.9, 9),
            (0.99, 10),
            (1.0, 10),
        ] {
            assert_eq!(nearest_rank(&one_to_ten, p), q, "Q({p})");
        }
        // Decimal percentiles whose product with n is not exact in binary.
        let hundred: Vec<u32> = (1..=100).collect();
        for p in [0.07, 0.29, 0.57, 0.3, 0.7] {
            let want = (p * 100.0_f64).round() as u32;
            assert_eq!(nearest_rank(&hundred, p), want, "Q({p})");
        }
        assert_eq!(exact(0.3), 0.3);
        assert_eq!(exact(0.995), 0.995);
    }

    #[test]
    fn bands_drop_the_ends_by_hand() {
        // Counts 1..=10 at entries 0..=9, a zero count at entry 10.
        let mut counts: Vec<u32> = (1..=10).collect();
        counts.push(0);
        assert!(dropped(PercentileBand::ALL, &counts).is_empty());
        assert_eq!(dropped(band(0.2, 0.9), &counts), [0, 9]);
        assert_eq!(dropped(band(0.25, 1.0), &counts), [0, 1]);
        assert_eq!(dropped(band(0.0, 0.85), &counts), [9]);
        // min = max keeps only the counts equal to that quantile.
        assert_eq!(
            dropped(band(0.5, 0.5), &counts),
            [0, 1, 2, 3, 5, 6, 7, 8, 9]
        );
        // The ends: min 1 keeps the largest count, max 0 the smallest.
        assert_eq!(dropped(band(1.0, 1.0), &counts), (0..9).collect::<Vec<_>>());
        assert_eq!(
            dropped(band(0.0, 0.0), &counts),
            (1..10).collect::<Vec<_>>()
        );
        assert_eq!(band(0.2, 0.9).thresholds(&counts), Some((2, 9)));
        assert_eq!(band(0.2, 0.9).thresholds(&[0, 0]), None);
        assert_eq!(band(0.2, 0.9).keep(&[0, 0]), [true, true]);

        // Ties are kept or dropped together: Q(0.5) of [1, 1, 1, 5, 5] is 1.
        let ties = [1, 5, 1, 5, 1];
        assert!(dropped(band(0.5, 1.0), &ties).is_empty());
        assert_eq!(dropped(band(0.0, 0.5), &ties), [1, 3]);
        // Personalize's SIMS default of 0.995 drops the heaviest of 1000 users.
        let mut many: Vec<u32> = vec![3; 999];
        many.push(500);
        assert_eq!(dropped(band(0.005, 0.995), &many), [999]);
        // One user alone is never dropped.
        assert!(dropped(band(0.9, 0.9), &[7]).is_empty());
    }

    #[test]
    fn reading_checks_the_range_and_the_order() {
        let read = |pairs: &[(&str, &str)]| {
            let map: BTreeMap<String, String> = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let mut hp = Hyperparameters::new(&map);
            let b = PercentileBand::read(&mut hp, "min_x_percentile", "max_x_percentile");
            b.map(|b| (b, hp.finish("r").unwrap()))
        };
        let (b, resolved) = read(&[]).unwrap();
        assert_eq!(b, PercentileBand::ALL);
        assert!(b.keeps_all());
        assert_eq!(resolved["min_x_percentile"], "0");
        assert_eq!(resolved["max_x_percentile"], "1");
        let (b, resolved) =
            read(&[("min_x_percentile", "0.05"), ("max_x_percentile", "0.95")]).unwrap();
        assert_eq!(b, band(0.05, 0.95));
        assert!(!b.keeps_all());
        assert_eq!(resolved["max_x_percentile"], "0.95");
        assert_eq!(
            read(&[("min_x_percentile", "0.4"), ("max_x_percentile", "0.4")])
                .unwrap()
                .0,
            band(0.4, 0.4)
        );

        let err = read(&[("min_x_percentile", "0.6"), ("max_x_percentile", "0.5")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("min_x_percentile") && err.contains("max_x_percentile"),
            "{err}"
        );
        let err = read(&[("max_x_percentile", "1.5")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("max_x_percentile") && err.contains("[0, 1]"),
            "{err}"
        );
        let err = read(&[("min_x_percentile", "-0.1")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("min_x_percentile"), "{err}");
    }
}
