//! The OpenSearch re-rank blend (`spec/models.md` 7.7): the one implementation behind the
//! server's OpenSearch endpoints and the search proxy.
//!
//! OpenSearch returns hits in its own order (rank `r_os`, 1-based); a Personalized-Ranking model
//! ranks the same items for a user (rank `r_p`, 1-based). Each of the first
//! [`MAX_RERANKED_HITS`] hits gets
//!
//! `combined = (1 - w) / log2(r_os + 1) + w / log2(r_p + 1)`
//!
//! and the block is sorted by `combined`, highest first, ties broken by OpenSearch rank.
//!
//! - Every hit of the block gets an `r_p`: the items the model knows take ranks `1..=K` in the
//!   model's order; then the rest (ids the model does not know and hits without an id) take
//!   `K+1, K+2, ...` in OpenSearch order, so no hit ever gets the Amazon plugin's rank 0 and its
//!   infinite score. Hits carrying the same id are the same item and share its `r_p`.
//! - Hits beyond the block keep their order after it. Their score is the formula with
//!   `r_p = r_os`, i.e. `1 / log2(r_os + 1)`: strictly decreasing and strictly below every
//!   score of the block (whose ranks are at most 500), so scores never increase down the list
//!   and sorting by score keeps the tail after the block.
//! - `w = 0` leaves the order unchanged and does not consult the model (scores
//!   `1 / log2(r_os + 1)`); `w = 1` is the pure personalized order.
//!
//! Pages: the `*_from` variants ([`blend_from`], [`identity_from`], [`rerank_from`]) blend one
//! page of results that starts at hit `from` of the whole result list (OpenSearch's `from`):
//! every rank above is shifted by `from`, so hit `i` of the page (0-based) has
//! `r_os = from + i + 1` and `r_p = from + its page-local personalized rank`, and a tail hit
//! scores `1 / log2(from + i + 2)`. The Amazon plugin restarts both ranks at 1 on every page
//! (`spec/opensearch.md` 2.6, bug 4), so page 2's scores came out above page 1's; with the
//! shift every score of a page lies strictly below every score of the previous page of the
//! same size. `from = 0` is [`blend`], [`identity`] and [`rerank`] exactly.

use std::collections::HashMap;

use crate::model::Ranked;

/// The most hits re-ranked (GetPersonalizedRanking's `inputList` limit); later hits keep their
/// order after them.
pub const MAX_RERANKED_HITS: usize = crate::model::MAX_INPUT_ITEMS;

/// One hit of a blended order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlendedHit {
    /// The hit's position in the OpenSearch order (0-based).
    pub hit: usize,
    /// Its combined score.
    pub score: f64,
}

/// `log2(rank + 1)`, the discount of a 1-based rank.
fn discount(rank: usize) -> f64 {
    ((rank + 1) as f64).log2()
}

/// The combined score of a hit at OpenSearch rank `os_rank` with personalized rank
/// `personal_rank` (both 1-based) for a weight in `[0, 1]`.
pub fn combined(weight: f64, os_rank: usize, personal_rank: usize) -> f64 {
    (1.0 - weight) / discount(os_rank) + weight / discount(personal_rank)
}

/// Blends personalized ranks into the OpenSearch order of `n_hits` hits.
///
/// `personal_ranks[i]` is the 1-based personalized rank of hit `i` for the first
/// `min(personal_ranks.len(), n_hits, MAX_RERANKED_HITS)` hits (the block); ranks outside
/// `1..=block` are clamped into it. `weight` is clamped to `[0, 1]` (NaN counts as 0). Returns
/// every hit exactly once, in the new order, with its score. [`blend_from`] with `from = 0`.
pub fn blend(personal_ranks: &[usize], n_hits: usize, weight: f64) -> Vec<BlendedHit> {
    blend_from(personal_ranks, n_hits, weight, 0)
}

/// [`blend`] for a page of results starting at hit `from` (0-based) of the whole list: both
/// ranks of every hit are shifted by `from` (see the module doc), so the page's scores lie
/// below those of the pages before it. `hit` in the answer stays page-local (`0..n_hits`).
pub fn blend_from(
    personal_ranks: &[usize],
    n_hits: usize,
    weight: f64,
    from: usize,
) -> Vec<BlendedHit> {
    let weight = if weight.is_nan() {
        0.0
    } else {
        weight.clamp(0.0, 1.0)
    };
    let block = personal_ranks.len().min(n_hits).min(MAX_RERANKED_HITS);
    let mut out: Vec<BlendedHit> = personal_ranks[..block]
        .iter()
        .enumerate()
        .map(|(i, &r)| BlendedHit {
            hit: i,
            score: combined(
                weight,
                from.saturating_add(i + 1),
                from.saturating_add(r.clamp(1, block)),
            ),
        })
        .collect();
    // Stable: equal scores keep OpenSearch order.
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out.extend((block..n_hits).map(|i| BlendedHit {
        hit: i,
        score: 1.0 / discount(from.saturating_add(i + 1)),
    }));
    out
}

/// The OpenSearch order itself, with the scores [`blend`] gives it at weight 0.
pub fn identity(n_hits: usize) -> Vec<BlendedHit> {
    identity_from(n_hits, 0)
}

/// [`identity`] for a page starting at hit `from`: the page's order, with the scores
/// [`blend_from`] gives it at weight 0 (`1 / log2(from + i + 2)` for hit `i`).
pub fn identity_from(n_hits: usize, from: usize) -> Vec<BlendedHit> {
    (0..n_hits)
        .map(|i| BlendedHit {
            hit: i,
            score: 1.0 / discount(from.saturating_add(i + 1)),
        })
        .collect()
}

/// The personalized rank (1-based) of each of the first `min(ids.len(), MAX_RERANKED_HITS)`
/// hits.
///
/// `ids` are the hits' item ids in OpenSearch order (`None` for a hit without an extractable
/// id). `rank` receives the block's distinct ids, each once, in order of first appearance, and
/// returns their ranking the way [`crate::model::Model::rank`] does: entries with a score are
/// the known items, best first; entries without one (unknown items) and ids missing from the
/// answer rank after every known item, in OpenSearch order. Entries with an out-of-range or
/// repeated `input_index` are ignored. `rank` is not called when no hit of the block has an id.
pub fn personal_ranks<'a>(
    ids: &[Option<&'a str>],
    rank: impl FnOnce(&[&'a str]) -> Vec<Ranked>,
) -> Vec<usize> {
    let block = &ids[..ids.len().min(MAX_RERANKED_HITS)];
    let mut distinct: Vec<&'a str> = Vec::with_capacity(block.len());
    let mut slot_of: HashMap<&'a str, usize> = HashMap::with_capacity(block.len());
    let slots: Vec<Option<usize>> = block
        .iter()
        .map(|id| {
            id.map(|id| {
                *slot_of.entry(id).or_insert_with(|| {
                    distinct.push(id);
                    distinct.len() - 1
                })
            })
        })
        .collect();
    // The rank of each distinct id; 0 = not ranked yet.
    let mut slot_rank = vec![0usize; distinct.len()];
    let mut next = 0usize;
    if !distinct.is_empty() {
        for r in rank(&distinct) {
            if r.score.is_some() && r.input_index < slot_rank.len() && slot_rank[r.input_index] == 0
            {
                next += 1;
                slot_rank[r.input_index] = next;
            }
        }
    }
    slots
        .into_iter()
        .map(|slot| match slot {
            Some(s) if slot_rank[s] > 0 => slot_rank[s],
            Some(s) => {
                next += 1;
                slot_rank[s] = next;
                next
            }
            None => {
                next += 1;
                next
            }
        })
        .collect()
}

/// Re-ranks hits: their item ids in OpenSearch order (`None` for hits without an extractable
/// id), the weight and the ranking function (see [`personal_ranks`]). Weight 0 (or NaN)
/// returns [`identity`] without calling `rank`. [`rerank_from`] with `from = 0`.
pub fn rerank<'a>(
    ids: &[Option<&'a str>],
    weight: f64,
    rank: impl FnOnce(&[&'a str]) -> Vec<Ranked>,
) -> Vec<BlendedHit> {
    rerank_from(ids, weight, 0, rank)
}

/// [`rerank`] for a page of results starting at hit `from` (0-based) of the whole list: the
/// page's hits are ranked among themselves, then blended with [`blend_from`] (weight 0 or NaN:
/// [`identity_from`], without calling `rank`).
pub fn rerank_from<'a>(
    ids: &[Option<&'a str>],
    weight: f64,
    from: usize,
    rank: impl FnOnce(&[&'a str]) -> Vec<Ranked>,
) -> Vec<BlendedHit> {
    if weight.is_nan() || weight <= 0.0 {
        return identity_from(ids.len(), from);
    }
    blend_from(&personal_ranks(ids, rank), ids.len(), weight, from)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPS: f64 = 1e-12;

    fn known(order: &[usize]) -> Vec<Ranked> {
        order
            .iter()
            .map(|&i| Ranked {
                input_index: i,
                score: Some(1.0 / order.len() as f64),
            })
            .collect()
    }

    fn unknown(i: usize) -> Ranked {
        Ranked {
            input_index: i,
            score: None,
        }
    }

    fn hits(b: &[BlendedHit]) -> Vec<usize> {
        b.iter().map(|h| h.hit).collect()
    }

    #[track_caller]
    fn assert_scores(b: &[BlendedHit], expected: &[f64]) {
        assert_eq!(b.len(), expected.len());
        for (h, e) in b.iter().zip(expected) {
            assert!((h.score - e).abs() < EPS, "{b:?} vs {expected:?}");
        }
    }

    #[test]
    fn three_hits_half_weight_by_hand() {
        // r_p = [3, 1, 2], w = 0.5:
        // hit 0: 0.5/log2(2) + 0.5/log2(4) = 0.5 + 0.25 = 0.75
        // hit 1: 0.5/log2(3) + 0.5/log2(2) = 0.315464876785729 + 0.5 = 0.815464876785729
        // hit 2: 0.5/log2(4) + 0.5/log2(3) = 0.25 + 0.315464876785729 = 0.565464876785729
        let b = blend(&[3, 1, 2], 3, 0.5);
        assert_eq!(hits(&b), [1, 0, 2]);
        assert_scores(&b, &[0.815_464_876_785_729, 0.75, 0.565_464_876_785_729]);
    }

    #[test]
    fn weight_extremes_by_hand() {
        // w = 1: the personalized order; scores 1/log2(r_p + 1).
        let b = blend(&[3, 1, 2], 3, 1.0);
        assert_eq!(hits(&b), [1, 2, 0]);
        assert_scores(&b, &[1.0, 0.630_929_753_571_457, 0.5]);
        // w = 0: OpenSearch order; scores 1/log2(r_os + 1).
        let b = blend(&[3, 1, 2], 3, 0.0);
        assert_eq!(hits(&b), [0, 1, 2]);
        assert_scores(&b, &[1.0, 0.630_929_753_571_457, 0.5]);
        // w = 0.3, r_p = [2, 1]:
        // hit 0: 0.7/1 + 0.3/log2(3) = 0.7 + 0.189278926071437 = 0.889278926071437
        // hit 1: 0.7/log2(3) + 0.3/1 = 0.441650827500020 + 0.3 = 0.741650827500020
        let b = blend(&[2, 1], 2, 0.3);
        assert_eq!(hits(&b), [0, 1]);
        assert_scores(&b, &[0.889_278_926_071_437, 0.741_650_827_500_020]);
        // w = 0.9 flips it: hit 1 = 0.1/log2(3) + 0.9 = 0.963092975357146,
        // hit 0 = 0.1 + 0.9/log2(3) = 0.667836778214311.
        let b = blend(&[2, 1], 2, 0.9);
        assert_eq!(hits(&b), [1, 0]);
        assert_scores(&b, &[0.963_092_975_357_146, 0.667_836_778_214_311]);
    }

    #[test]
    fn ties_keep_opensearch_order() {
        // w = 0.5, r_p = [2, 1]: both hits score 0.5 + 0.5/log2(3).
        let b = blend(&[2, 1], 2, 0.5);
        assert_eq!(hits(&b), [0, 1]);
        assert_eq!(b[0].score, b[1].score);
        // Equal personal ranks at w = 1 (duplicate ids): OpenSearch order decides.
        let b = blend(&[1, 1, 1], 3, 1.0);
        assert_eq!(hits(&b), [0, 1, 2]);
    }

    #[test]
    fn personal_ranks_put_unknown_and_idless_hits_after_known_ones() {
        // Hits: a, (no id), x (unknown), b, a (duplicate), y (unknown).
        let ids = [Some("a"), None, Some("x"), Some("b"), Some("a"), Some("y")];
        let ranks = personal_ranks(&ids, |distinct| {
            assert_eq!(distinct, ["a", "x", "b", "y"]);
            // The model knows b then a; x and y are unknown.
            let mut r = known(&[2, 0]);
            r.extend([unknown(1), unknown(3)]);
            r
        });
        // b = 1, a = 2 (both hits), then (no id) = 3, x = 4, y = 5 in OpenSearch order.
        assert_eq!(ranks, [2, 3, 4, 1, 2, 5]);
        // w = 1: 1/log2(r_p + 1), ties (the two a hits) by OpenSearch rank.
        let b = blend(&ranks, ids.len(), 1.0);
        assert_eq!(hits(&b), [3, 0, 4, 1, 2, 5]);
    }

    #[test]
    fn ids_missing_from_the_answer_count_as_unknown() {
        let ids = [Some("a"), Some("b"), Some("c")];
        // An answer that forgets c, repeats b and names an index out of range.
        let ranks = personal_ranks(&ids, |_| {
            let mut r = known(&[1, 1, 7]);
            r.push(unknown(0));
            r
        });
        assert_eq!(ranks, [2, 1, 3]);
    }

    #[test]
    fn rank_is_not_called_without_ids_or_weight() {
        let ids = [None, None];
        assert_eq!(personal_ranks(&ids, |_| panic!("no ids to rank")), [1, 2]);
        let ids = [Some("a"), Some("b")];
        let b = rerank(&ids, 0.0, |_| panic!("weight 0 ranks nothing"));
        assert_eq!(b, identity(2));
        assert_scores(&b, &[1.0, 0.630_929_753_571_457]);
        let b = rerank(&ids, f64::NAN, |_| panic!("NaN counts as 0"));
        assert_eq!(hits(&b), [0, 1]);
    }

    #[test]
    fn rerank_applies_the_model_order() {
        let ids = [Some("a"), Some("b"), Some("c")];
        // Model: c, a, b -> r_p = [2, 3, 1].
        let b = rerank(&ids, 1.0, |_| known(&[2, 0, 1]));
        assert_eq!(hits(&b), [2, 0, 1]);
        // w = 0.5: hit 0 = 0.5 + 0.5/log2(3) = 0.815464876785729,
        // hit 1 = 0.5/log2(3) + 0.5/log2(4) = 0.565464876785729,
        // hit 2 = 0.5/log2(4) + 0.5 = 0.75.
        let b = rerank(&ids, 0.5, |_| known(&[2, 0, 1]));
        assert_eq!(hits(&b), [0, 2, 1]);
        assert_scores(&b, &[0.815_464_876_785_729, 0.75, 0.565_464_876_785_729]);
    }

    #[test]
    fn out_of_range_inputs_are_clamped() {
        // A rank of 0 would be the Amazon plugin's infinite score; it is read as 1.
        let b = blend(&[0, 9], 2, 1.0);
        assert!(b.iter().all(|h| h.score.is_finite()), "{b:?}");
        assert_eq!(hits(&b), [0, 1]);
        assert_eq!(hits(&blend(&[2, 1], 2, 7.0)), [1, 0]);
        assert_eq!(hits(&blend(&[2, 1], 2, -1.0)), [0, 1]);
        // More ranks than hits: only the hits count.
        assert_eq!(hits(&blend(&[2, 1, 3], 2, 1.0)), [1, 0]);
        assert!(blend(&[], 0, 0.5).is_empty());
    }

    /// The blend as it was before pages (no `from`), kept verbatim as the reference that
    /// `from = 0` must reproduce bit for bit.
    fn unpaged_blend(personal_ranks: &[usize], n_hits: usize, weight: f64) -> Vec<BlendedHit> {
        let weight = if weight.is_nan() {
            0.0
        } else {
            weight.clamp(0.0, 1.0)
        };
        let block = personal_ranks.len().min(n_hits).min(MAX_RERANKED_HITS);
        let mut out: Vec<BlendedHit> = personal_ranks[..block]
            .iter()
            .enumerate()
            .map(|(i, &r)| BlendedHit {
                hit: i,
                score: combined(weight, i + 1, r.clamp(1, block)),
            })
            .collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score));
        out.extend((block..n_hits).map(|i| BlendedHit {
            hit: i,
            score: 1.0 / discount(i + 1),
        }));
        out
    }

    #[test]
    fn from_zero_is_the_unpaged_blend_bit_for_bit() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for case in 0..200 {
            let n = match case % 3 {
                0 => rng.below(10),
                1 => rng.below(80),
                _ => rng.below(700),
            };
            let owned = random_ids(&mut rng, n);
            let ids: Vec<Option<&str>> = owned.iter().map(|s| s.as_deref()).collect();
            let answer = random_ranking(&mut rng, n);
            let ranks = personal_ranks(&ids, |_| answer.clone());
            for weight in [0.0, 0.3, 0.5, 1.0, rng.below(1_001) as f64 / 1_000.0] {
                let expected = unpaged_blend(&ranks, n, weight);
                // Exact equality: same hits, same f64 bits.
                assert_eq!(blend_from(&ranks, n, weight, 0), expected, "case {case}");
                assert_eq!(blend(&ranks, n, weight), expected, "case {case}");
                if weight > 0.0 {
                    let b = rerank_from(&ids, weight, 0, |_| answer.clone());
                    assert_eq!(b, expected, "case {case}");
                    assert_eq!(rerank(&ids, weight, |_| answer.clone()), expected);
                }
            }
            assert_eq!(identity_from(n, 0), unpaged_blend(&[], n, 0.0));
            assert_eq!(identity(n), identity_from(n, 0));
        }
    }

    #[test]
    fn a_page_from_10_by_hand() {
        // r_p = [3, 1, 2] on the page starting at 10: r_os = [11, 12, 13], r_p = [13, 11, 12].
        // w = 0.5: hit 0 = 0.5/log2(12) + 0.5/log2(14) = 0.270796240344162
        //          hit 1 = 0.5/log2(13) + 0.5/log2(12) = 0.274590550039225
        //          hit 2 = 0.5/log2(14) + 0.5/log2(13) = 0.266443844732257
        let b = blend_from(&[3, 1, 2], 3, 0.5, 10);
        assert_eq!(hits(&b), [1, 0, 2]);
        assert_scores(
            &b,
            &[
                0.274_590_550_039_225,
                0.270_796_240_344_162,
                0.266_443_844_732_257,
            ],
        );
        // w = 1 and two hits beyond the block (ranks 14 and 15): 1/log2(r + 1).
        let b = blend_from(&[3, 1, 2], 5, 1.0, 10);
        assert_eq!(hits(&b), [1, 2, 0, 3, 4]);
        assert_scores(
            &b,
            &[
                0.278_942_945_651_130,
                0.270_238_154_427_320,
                0.262_649_535_037_194,
                0.255_958_024_809_815,
                0.25,
            ],
        );
        // w = 0: the page's order, 1/log2(from + i + 2).
        let b = rerank_from(&[Some("a"), None], 0.0, 10, |_| panic!("weight 0"));
        assert_eq!(b, identity_from(2, 10));
        assert_scores(&b, &[0.278_942_945_651_130, 0.270_238_154_427_320]);
    }

    #[test]
    fn each_page_scores_strictly_below_the_previous_one() {
        let mut rng = Rng(0x51_7cc1_b727_220a);
        for n in [1, 2, 7, 40, 499, 500, 501, 620] {
            for weight in [0.0, 0.3, 1.0] {
                let mut previous_min = f64::INFINITY;
                for page in 0..3 {
                    let from = page * n;
                    // Ids unique to the page, about a third of them unknown to the model, and
                    // one hit without an id.
                    let owned: Vec<Option<String>> = (0..n)
                        .map(|i| (i != n / 2).then(|| format!("p{page}-{i}")))
                        .collect();
                    let ids: Vec<Option<&str>> = owned.iter().map(|s| s.as_deref()).collect();
                    let b = rerank_from(&ids, weight, from, |distinct| {
                        let mut order: Vec<usize> = (0..distinct.len()).collect();
                        for i in (1..order.len()).rev() {
                            order.swap(i, rng.below(i + 1));
                        }
                        order
                            .into_iter()
                            .map(|i| Ranked {
                                input_index: i,
                                score: (i % 3 != 0).then_some(0.5),
                            })
                            .collect()
                    });
                    let ctx = format!("n {n}, weight {weight}, page {page}");
                    assert_eq!(b.len(), n, "{ctx}");
                    let max = b.iter().map(|h| h.score).fold(f64::NEG_INFINITY, f64::max);
                    let min = b.iter().map(|h| h.score).fold(f64::INFINITY, f64::min);
                    assert!(max < previous_min, "{ctx}: max {max} >= {previous_min}");
                    assert!(b.windows(2).all(|w| w[0].score >= w[1].score), "{ctx}");
                    previous_min = min;
                }
            }
        }
    }

    /// xorshift64*: a deterministic generator for the property tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Random hits: ids from a small pool (so some repeat), some without an id.
    fn random_ids(rng: &mut Rng, n: usize) -> Vec<Option<String>> {
        let pool = 1 + rng.below(2 * n + 1);
        (0..n)
            .map(|_| (rng.below(10) != 0).then(|| format!("i{}", rng.below(pool))))
            .collect()
    }

    /// A random model answer: a shuffled subset of the inputs known, the rest unknown.
    fn random_ranking(rng: &mut Rng, n: usize) -> Vec<Ranked> {
        let mut idx: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            idx.swap(i, rng.below(i + 1));
        }
        let known_share = rng.below(11);
        idx.into_iter()
            .map(|i| Ranked {
                input_index: i,
                score: (rng.below(10) < known_share).then_some(0.5),
            })
            .collect()
    }

    #[test]
    fn properties_over_random_inputs() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for case in 0..400 {
            let n = match case % 4 {
                0 => rng.below(8),
                1 => rng.below(60),
                2 => 480 + rng.below(60),
                _ => rng.below(1_200),
            };
            let owned = random_ids(&mut rng, n);
            let ids: Vec<Option<&str>> = owned.iter().map(|s| s.as_deref()).collect();
            let weight = match case % 5 {
                0 => 0.0,
                1 => 1.0,
                _ => rng.below(1_001) as f64 / 1_000.0,
            };
            let mut answer = None;
            let mut called = false;
            let b = rerank(&ids, weight, |distinct| {
                called = true;
                let r = random_ranking(&mut rng, distinct.len());
                answer = Some(r.clone());
                r
            });
            let block = n.min(MAX_RERANKED_HITS);
            let ctx = format!("case {case}: n {n}, weight {weight}");

            // A permutation of every hit.
            let mut seen = hits(&b);
            seen.sort_unstable();
            assert_eq!(seen, (0..n).collect::<Vec<_>>(), "{ctx}");
            // Scores never increase down the list; ties keep OpenSearch order.
            for w in b.windows(2) {
                assert!(w[0].score >= w[1].score, "{ctx}: {w:?}");
                if w[0].score == w[1].score {
                    assert!(w[0].hit < w[1].hit, "{ctx}: {w:?}");
                }
            }
            // The tail keeps its order after the block, with 1/log2(r_os + 1).
            for (k, h) in b.iter().enumerate().skip(block) {
                assert_eq!(h.hit, k, "{ctx}");
                assert!((h.score - 1.0 / discount(k + 1)).abs() < EPS, "{ctx}");
            }
            assert!(b[..block].iter().all(|h| h.hit < block), "{ctx}");
            if weight == 0.0 {
                assert!(!called, "{ctx}: weight 0 must not rank");
                assert_eq!(b, identity(n), "{ctx}");
                continue;
            }
            // Every score is the formula over the ranks personal_ranks derives.
            let ranks = personal_ranks(&ids, |_| answer.clone().unwrap_or_default());
            assert_eq!(ranks.len(), block, "{ctx}");
            assert!(ranks.iter().all(|&r| (1..=block).contains(&r)), "{ctx}");
            for h in &b[..block] {
                let expected = combined(weight, h.hit + 1, ranks[h.hit]);
                assert!((h.score - expected).abs() < EPS, "{ctx}");
            }
            // Hits with the same id share a rank; distinct ids get distinct ranks.
            for i in 0..block {
                for j in i + 1..block {
                    match (ids[i], ids[j]) {
                        (Some(a), Some(c)) => {
                            assert_eq!(a == c, ranks[i] == ranks[j], "{ctx}: {i} {j}")
                        }
                        _ => assert_ne!(ranks[i], ranks[j], "{ctx}: {i} {j}"),
                    }
                }
            }
            if weight == 1.0 {
                // The pure personalized order, ties by OpenSearch rank.
                let mut expected: Vec<usize> = (0..block).collect();
                expected.sort_by_key(|&i| (ranks[i], i));
                assert_eq!(hits(&b[..block]), expected, "{ctx}");
            }
        }
    }
}
