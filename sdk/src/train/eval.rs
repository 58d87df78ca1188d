//! Offline evaluation as Personalize does it (`spec/models.md` 2.6-2.7): a seeded split of the
//! users into training and test users, each test user's history cut in time into an input (the
//! oldest 90%) and a truth (the newest 10%), and ranking metrics of the top 25 recommendations
//! made from the input.
//!
//! The functions are pure: they take user histories and a recommender closure, never the store.

use std::collections::{BTreeMap, HashSet};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// How many recommendations are scored: the largest K of the metrics.
pub const TOP_K: usize = 25;

/// A split of the users into training and test users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Users whose whole history trains the model, ascending: every user not tested, including
    /// those with too short a history to be tested.
    pub train_users: Vec<u32>,
    /// The test users, ascending by user.
    pub test: Vec<TestUser>,
}

/// One test user: what the model sees and what it should find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestUser {
    /// The user's index in the histories.
    pub user: u32,
    /// The oldest `floor(0.9 n)` of the user's `n` events, in time order (repeats kept).
    pub input: Vec<u32>,
    /// The items of the newest events, distinct, in time order of first occurrence, without
    /// items already in `input`. Never empty.
    pub truth: Vec<u32>,
}

/// A user eligible for testing, with the history cut into input and truth.
fn cut(user: u32, history: &[(i64, u32)]) -> Option<TestUser> {
    let n = history.len();
    if n < 2 {
        return None;
    }
    // Stable: events with equal timestamps keep their original order.
    let mut events = history.to_vec();
    events.sort_by_key(|e| e.0);
    let n_input = n * 9 / 10;
    let input: Vec<u32> = events[..n_input].iter().map(|e| e.1).collect();
    let seen: HashSet<u32> = input.iter().copied().collect();
    let mut in_truth = HashSet::new();
    let truth: Vec<u32> = events[n_input..]
        .iter()
        .map(|e| e.1)
        .filter(|i| !seen.contains(i) && in_truth.insert(*i))
        .collect();
    (!truth.is_empty()).then_some(TestUser { user, input, truth })
}

/// Every eligible user, cut, in user order.
fn eligible(user_histories: &[Vec<(i64, u32)>]) -> Vec<TestUser> {
    user_histories
        .iter()
        .enumerate()
        .filter_map(|(u, h)| cut(u as u32, h))
        .collect()
}

/// `tested` becomes the test set; every other user trains.
fn make_split(n_users: usize, mut tested: Vec<TestUser>) -> Split {
    tested.sort_by_key(|t| t.user);
    let mut is_test = vec![false; n_users];
    for t in &tested {
        is_test[t.user as usize] = true;
    }
    Split {
        train_users: (0..n_users as u32)
            .filter(|&u| !is_test[u as usize])
            .collect(),
        test: tested,
    }
}

/// Splits users into training and test users as Personalize does: `round(test_fraction * m)` of
/// the `m` eligible users (at least 2 events and a non-empty truth), drawn with a seeded RNG,
/// are tested; all others train. `user_histories[u]` holds user `u`'s `(timestamp, item)` events
/// in any order (ties in timestamp keep this order).
///
/// Panics unless `0 <= test_fraction <= 1`.
pub fn split(user_histories: &[Vec<(i64, u32)>], test_fraction: f64, seed: u64) -> Split {
    assert!(
        (0.0..=1.0).contains(&test_fraction),
        "test_fraction must be within [0, 1], got {test_fraction}"
    );
    let mut candidates = eligible(user_histories);
    candidates.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let n_test = (test_fraction * candidates.len() as f64).round() as usize;
    candidates.truncate(n_test);
    make_split(user_histories.len(), candidates)
}

/// `folds` splits whose test users are disjoint and together are every eligible user (sizes
/// differ by at most one), drawn with a seeded RNG: repeat the protocol over them so that every
/// user is tested once.
///
/// Panics when `folds` is 0.
pub fn split_folds(user_histories: &[Vec<(i64, u32)>], folds: usize, seed: u64) -> Vec<Split> {
    assert!(folds > 0, "folds must be at least 1");
    let mut candidates = eligible(user_histories);
    candidates.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut parts: Vec<Vec<TestUser>> = vec![Vec::new(); folds];
    for (k, t) in candidates.into_iter().enumerate() {
        parts[k % folds].push(t);
    }
    parts
        .into_iter()
        .map(|tested| make_split(user_histories.len(), tested))
        .collect()
}

/// Personalize's solution metrics, averaged over the test users. Serializes with the keys
/// `GetSolutionMetrics` returns.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Metrics {
    /// Distinct items recommended (top 25) across test users over the items in the data.
    pub coverage: f64,
    /// Mean of 1 / rank of the first relevant item within the top 25 (0 without one).
    pub mean_reciprocal_rank_at_25: f64,
    /// NDCG over the top 5.
    pub normalized_discounted_cumulative_gain_at_5: f64,
    /// NDCG over the top 10.
    pub normalized_discounted_cumulative_gain_at_10: f64,
    /// NDCG over the top 25.
    pub normalized_discounted_cumulative_gain_at_25: f64,
    /// Relevant items in the top 5, over 5.
    pub precision_at_5: f64,
    /// Relevant items in the top 10, over 10.
    pub precision_at_10: f64,
    /// Relevant items in the top 25, over 25.
    pub precision_at_25: f64,
}

impl Metrics {
    /// The metrics by their Personalize names.
    pub fn to_map(&self) -> BTreeMap<String, f64> {
        [
            ("coverage", self.coverage),
            (
                "mean_reciprocal_rank_at_25",
                self.mean_reciprocal_rank_at_25,
            ),
            (
                "normalized_discounted_cumulative_gain_at_5",
                self.normalized_discounted_cumulative_gain_at_5,
            ),
            (
                "normalized_discounted_cumulative_gain_at_10",
                self.normalized_discounted_cumulative_gain_at_10,
            ),
            (
                "normalized_discounted_cumulative_gain_at_25",
                self.normalized_discounted_cumulative_gain_at_25,
            ),
            ("precision_at_5", self.precision_at_5),
            ("precision_at_10", self.precision_at_10),
            ("precision_at_25", self.precision_at_25),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

/// Scores `recommend` on every test user of `split` and averages the metrics.
///
/// `recommend(user)` returns the ranked item ids for the user's input, best first, input items
/// excluded; only the first 25 distinct ids count. `n_items` is the number of items in the data
/// (the coverage denominator). Runs on `threads` threads; the result does not depend on it.
/// Without test users every metric is 0.
pub fn evaluate(
    split: &Split,
    n_items: usize,
    recommend: impl Fn(&TestUser) -> Vec<u32> + Sync,
    threads: usize,
) -> Metrics {
    let per_user = |t: &TestUser| -> (Vec<u32>, [f64; 7]) {
        let mut ranked = Vec::with_capacity(TOP_K);
        for i in recommend(t) {
            if ranked.len() == TOP_K {
                break;
            }
            if !ranked.contains(&i) {
                ranked.push(i);
            }
        }
        let truth = &t.truth;
        let m = [
            reciprocal_rank(&ranked, truth, 25),
            ndcg(&ranked, truth, 5),
            ndcg(&ranked, truth, 10),
            ndcg(&ranked, truth, 25),
            precision(&ranked, truth, 5),
            precision(&ranked, truth, 10),
            precision(&ranked, truth, 25),
        ];
        (ranked, m)
    };
    let threads = threads.clamp(1, split.test.len().max(1));
    let chunk = split.test.len().div_ceil(threads).max(1);
    let results: Vec<(Vec<u32>, [f64; 7])> = if threads == 1 {
        split.test.iter().map(per_user).collect()
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = split
                .test
                .chunks(chunk)
                .map(|users| scope.spawn(|| users.iter().map(per_user).collect::<Vec<_>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    };
    if results.is_empty() {
        return Metrics::default();
    }
    let mut sums = [0f64; 7];
    let mut recommended = HashSet::new();
    for (ranked, m) in &results {
        recommended.extend(ranked.iter().copied());
        for (s, v) in sums.iter_mut().zip(m) {
            *s += v;
        }
    }
    let n = results.len() as f64;
    let [rr, n5, n10, n25, p5, p10, p25] = sums.map(|s| s / n);
    Metrics {
        coverage: if n_items == 0 {
            0.0
        } else {
            recommended.len() as f64 / n_items as f64
        },
        mean_reciprocal_rank_at_25: rr,
        normalized_discounted_cumulative_gain_at_5: n5,
        normalized_discounted_cumulative_gain_at_10: n10,
        normalized_discounted_cumulative_gain_at_25: n25,
        precision_at_5: p5,
        precision_at_10: p10,
        precision_at_25: p25,
    }
}

/// 1 / the 1-based rank of the first item of `ranked[..k]` that is in `truth`, or 0.
pub fn reciprocal_rank(ranked: &[u32], truth: &[u32], k: usize) -> f64 {
    ranked
        .iter()
        .take(k)
        .position(|i| truth.contains(i))
        .map_or(0.0, |p| 1.0 / (p + 1) as f64)
}

/// Normalized discounted cumulative gain at `k`: relevant items at rank `r` (1-based) gain
/// `1 / log2(1 + r)`; the ideal ranking puts `min(|truth|, k)` relevant items first. `truth`
/// holds distinct items.
pub fn ndcg(ranked: &[u32], truth: &[u32], k: usize) -> f64 {
    let gain = |rank0: usize| 1.0 / ((rank0 + 2) as f64).log2();
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, i)| truth.contains(i))
        .map(|(r, _)| gain(r))
        .sum();
    let ideal: f64 = (0..truth.len().min(k)).map(gain).sum();
    if ideal == 0.0 {
        0.0
    } else {
        dcg / ideal
    }
}

/// The relevant items among `ranked[..k]`, over `k` (not over the list's length).
pub fn precision(ranked: &[u32], truth: &[u32], k: usize) -> f64 {
    if k == 0 {
        return 0.0;
    }
    let hits = ranked.iter().take(k).filter(|i| truth.contains(i)).count();
    hits as f64 / k as f64
}

/// Means with standard errors of two paired samples (e.g. one metric of two models over the
/// same folds) and of their differences `a - b`:
/// `(mean_a, se_a, mean_b, se_b, mean_diff, se_diff)`. The standard error is the sample
/// standard deviation (n − 1) over √n; it is NaN with fewer than two values.
///
/// Panics when the samples differ in length.
pub fn paired_summary(a: &[f64], b: &[f64]) -> (f64, f64, f64, f64, f64, f64) {
    assert_eq!(a.len(), b.len(), "paired samples differ in length");
    let diff: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let (mean_a, se_a) = mean_se(a);
    let (mean_b, se_b) = mean_se(b);
    let (mean_d, se_d) = mean_se(&diff);
    (mean_a, se_a, mean_b, se_b, mean_d, se_d)
}

/// Mean and standard error of the mean.
fn mean_se(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    if x.len() < 2 {
        return (mean, f64::NAN);
    }
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round4(x: f64) -> f64 {
        (x * 1e4).round() / 1e4
    }

    #[test]
    fn the_seed_worked_example() {
        // Relevant items at ranks 2 and 5, K = 5.
        let ranked = [10, 1, 11, 12, 2];
        let truth = [1, 2];
        assert_eq!(reciprocal_rank(&ranked, &truth, 25), 0.5);
        assert_eq!(round4(ndcg(&ranked, &truth, 5)), 0.6241);
        assert_eq!(precision(&ranked, &truth, 5), 0.4);
    }

    #[test]
    fn the_seed_mean_reciprocal_rank_example() {
        // Clicks at ranks 4 and 10; 2, 4 and 12; 6.
        let ranked: Vec<u32> = (1..=25).collect();
        let users: [&[u32]; 3] = [&[4, 10], &[2, 4, 12], &[6]];
        let rr: Vec<f64> = users
            .iter()
            .map(|t| reciprocal_rank(&ranked, t, 25))
            .collect();
        assert_eq!(round4(rr.iter().sum::<f64>() / 3.0), 0.3056);
        // Precision over K, not over the list: 3 of 10 is 0.3.
        assert_eq!(precision(&ranked[..10], &[1, 5, 9, 30], 10), 0.3);
        assert_eq!(reciprocal_rank(&ranked, &[26], 25), 0.0);
        assert_eq!(ndcg(&ranked, &[], 5), 0.0);
        assert_eq!(ndcg(&[3, 1], &[1, 3], 10), 1.0);
    }

    /// 200 users with 0..40 events at random times over 100 items (user 3 has a single event).
    fn histories() -> Vec<Vec<(i64, u32)>> {
        use rand::Rng;
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        (0..200)
            .map(|u| {
                let n = if u == 3 { 1 } else { rng.random_range(0..40) };
                (0..n)
                    .map(|_| (rng.random_range(0..50i64), rng.random_range(0..100u32)))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn split_is_seeded_and_cuts_each_test_user_in_time() {
        let h = histories();
        let s = split(&h, 0.1, 7);
        assert_eq!(s, split(&h, 0.1, 7));
        assert_ne!(s, split(&h, 0.1, 8));
        let n_eligible = eligible(&h).len();
        assert!(n_eligible > 150 && n_eligible < 200, "{n_eligible}");
        assert_eq!(s.test.len(), (n_eligible as f64 * 0.1).round() as usize);
        assert_eq!(s.train_users.len() + s.test.len(), h.len());
        assert!(s.train_users.windows(2).all(|w| w[0] < w[1]));
        assert!(s.test.windows(2).all(|w| w[0].user < w[1].user));
        for t in &s.test {
            assert!(!s.train_users.contains(&t.user));
            let events = &h[t.user as usize];
            assert!(events.len() >= 2);
            assert_eq!(t.input.len(), events.len() * 9 / 10);
            assert!(!t.truth.is_empty());
            assert!(t.truth.iter().all(|i| !t.input.contains(i)));
            let distinct: HashSet<_> = t.truth.iter().collect();
            assert_eq!(distinct.len(), t.truth.len());
            // Every input event is no newer than every truth event.
            let mut sorted = events.clone();
            sorted.sort_by_key(|e| e.0);
            let newest_input = sorted[..t.input.len()]
                .iter()
                .map(|e| e.0)
                .max()
                .expect("input");
            let oldest_rest = sorted[t.input.len()..]
                .iter()
                .map(|e| e.0)
                .min()
                .expect("rest");
            assert!(newest_input <= oldest_rest);
            assert_eq!(
                t.input,
                sorted[..t.input.len()]
                    .iter()
                    .map(|e| e.1)
                    .collect::<Vec<_>>()
            );
        }
        // The single-event user and empty users always train.
        assert!(s.train_users.contains(&3));
    }

    #[test]
    fn ties_keep_the_original_order_and_short_histories_train() {
        let h = vec![
            vec![
                (5, 1),
                (5, 2),
                (5, 3),
                (1, 4),
                (9, 5),
                (5, 6),
                (5, 7),
                (5, 8),
                (5, 9),
                (5, 10),
            ],
            vec![(1, 1)],
            vec![(1, 1), (2, 1)],
        ];
        let t = cut(0, &h[0]).expect("eligible");
        assert_eq!(t.input, vec![4, 1, 2, 3, 6, 7, 8, 9, 10]);
        assert_eq!(t.truth, vec![5]);
        assert!(cut(1, &h[1]).is_none());
        // The truth repeats an input item: nothing left to find.
        assert!(cut(2, &h[2]).is_none());
        let s = split(&h, 1.0, 0);
        assert_eq!(s.test.iter().map(|t| t.user).collect::<Vec<_>>(), vec![0]);
        assert_eq!(s.train_users, vec![1, 2]);
    }

    #[test]
    fn folds_are_disjoint_and_cover_every_eligible_user() {
        let h = histories();
        let folds = split_folds(&h, 10, 3);
        assert_eq!(folds, split_folds(&h, 10, 3));
        assert_eq!(folds.len(), 10);
        let mut seen = Vec::new();
        for f in &folds {
            assert_eq!(f.train_users.len() + f.test.len(), h.len());
            seen.extend(f.test.iter().map(|t| t.user));
        }
        let n = seen.len();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), n, "a user is tested twice");
        let all: Vec<u32> = eligible(&h).iter().map(|t| t.user).collect();
        assert_eq!(seen, all);
        let sizes: Vec<usize> = folds.iter().map(|f| f.test.len()).collect();
        assert!(sizes.iter().max().expect("folds") - sizes.iter().min().expect("folds") <= 1);
    }

    #[test]
    fn evaluate_averages_over_test_users_on_any_thread_count() {
        let split = Split {
            train_users: vec![],
            test: vec![
                TestUser {
                    user: 0,
                    input: vec![9],
                    truth: vec![1, 2],
                },
                TestUser {
                    user: 1,
                    input: vec![9],
                    truth: vec![7],
                },
            ],
        };
        // User 0 gets the worked example's list; user 1 gets its item at rank 4, after a repeat.
        let recommend = |t: &TestUser| -> Vec<u32> {
            if t.user == 0 {
                vec![10, 1, 11, 12, 2]
            } else {
                vec![3, 3, 4, 5, 7]
            }
        };
        let m = evaluate(&split, 20, recommend, 1);
        assert_eq!(m, evaluate(&split, 20, recommend, 2));
        assert_eq!(m, evaluate(&split, 20, recommend, 8));
        assert!((m.mean_reciprocal_rank_at_25 - (0.5 + 0.25) / 2.0).abs() < 1e-12);
        assert!((m.precision_at_5 - (0.4 + 0.2) / 2.0).abs() < 1e-12);
        assert!((m.precision_at_25 - (2.0 / 25.0 + 1.0 / 25.0) / 2.0).abs() < 1e-12);
        let ndcg1 = 1.0 / 5f64.log2();
        assert!(
            (m.normalized_discounted_cumulative_gain_at_5 - (0.6241 + ndcg1) / 2.0).abs() < 1e-4
        );
        // Distinct items recommended: 10, 1, 11, 12, 2, 3, 4, 5, 7.
        assert!((m.coverage - 9.0 / 20.0).abs() < 1e-12);
        let json = serde_json::to_value(m).expect("serializes");
        let keys: Vec<&String> = json.as_object().expect("object").keys().collect();
        assert_eq!(keys, m.to_map().keys().collect::<Vec<_>>());
        assert_eq!(m.to_map()["precision_at_5"], m.precision_at_5);
        assert_eq!(m.to_map().len(), 8);
        let empty = Split {
            train_users: vec![0],
            test: vec![],
        };
        assert_eq!(evaluate(&empty, 20, recommend, 2), Metrics::default());
    }

    #[test]
    fn paired_summary_gives_means_and_standard_errors() {
        let (ma, sa, mb, sb, md, sd) = paired_summary(&[1.0, 2.0, 3.0], &[0.5, 1.5, 3.5]);
        assert_eq!((ma, mb), (2.0, 5.5 / 3.0));
        assert!((sa - (1.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!(sb > sa);
        // Differences 0.5, 0.5, -0.5.
        assert!((md - 0.5 / 3.0).abs() < 1e-12);
        let var_d = ((1.0f64 / 3.0).powi(2) * 2.0 + (2.0f64 / 3.0).powi(2)) / 2.0;
        assert!((sd - (var_d / 3.0).sqrt()).abs() < 1e-12);
        assert!(paired_summary(&[1.0], &[2.0]).1.is_nan());
    }
}
