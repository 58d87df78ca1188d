use super::*;

/// Four items in 2-D: items 0 and 1 point along x, 2 and 3 along y. User "a" likes x, "b" y.
pub(crate) fn tiny_factor_model() -> Model {
    let items = vec![1.0, 0.0, 0.9, 0.1, 0.0, 1.0, 0.1, 0.9];
    let gram = foldin::gram(&items, 2);
    Model {
        header: ModelHeader {
            recipe: Recipe::PersonalizedRanking,
            algorithm: "ials".into(),
            hyperparameters: BTreeMap::new(),
            event_type_weights: BTreeMap::from([("click".to_owned(), 1.0)]),
            default_event_weight: 1.0,
            interactions: 4,
            trained_at: 0.0,
        },
        items: IdTable::new(&["i0", "i1", "i2", "i3"]),
        users: IdTable::new(&["a", "b"]),
        popularity: vec![1, 5, 3, 2],
        popular_order: vec![1, 2, 3, 0],
        hist_indptr: vec![0, 1, 2],
        hist_items: vec![0, 2],
        hist_weights: vec![1.0, 1.0],
        body: Body::Factors {
            d: 2,
            users: vec![1.0, 0.0, 0.0, 1.0],
            items,
            gram,
            regularization: 0.1,
            alpha: 10.0,
        },
    }
}

fn order(ranked: &[Ranked], input: &[&str]) -> Vec<String> {
    ranked
        .iter()
        .map(|r| input[r.input_index].to_owned())
        .collect()
}

#[test]
fn known_items_rank_by_score_with_softmax_summing_to_one() {
    let m = tiny_factor_model();
    let input = ["i3", "i1", "i0", "i2"];
    let r = m.rank("a", &[], &input);
    assert_eq!(order(&r, &input), ["i0", "i1", "i3", "i2"]);
    let sum: f64 = r.iter().map(|x| x.score.unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-6);
    assert!(r.windows(2).all(|w| w[0].score >= w[1].score));
    let r = m.rank("b", &[], &input);
    assert_eq!(order(&r, &input)[..2], ["i2", "i3"]);
}

#[test]
fn unknown_items_are_appended_in_input_order_without_score_and_duplicates_dropped() {
    let m = tiny_factor_model();
    let input = ["new-2", "i2", "i0", "new-1", "i0"];
    let r = m.rank("a", &[], &input);
    assert_eq!(order(&r, &input), ["i0", "i2", "new-2", "new-1"]);
    assert_eq!(r[2].score, None);
    assert_eq!(r[3].score, None);
    let sum: f64 = r.iter().filter_map(|x| x.score).sum();
    assert!((sum - 1.0).abs() < 1e-6);
}

#[test]
fn unknown_user_is_ranked_by_popularity() {
    let m = tiny_factor_model();
    let input = ["i0", "i3", "i2", "i1"];
    let r = m.rank("stranger", &[], &input);
    assert_eq!(order(&r, &input), ["i1", "i2", "i3", "i0"]);
}

#[test]
fn a_new_event_changes_the_next_ranking_without_retraining() {
    let m = tiny_factor_model();
    let input = ["i0", "i1", "i2", "i3"];
    let before = order(&m.rank("a", &[], &input), &input);
    assert_eq!(before[0], "i0");
    // User "a" now interacts heavily with y-items: they move up.
    let recent = [("i2", 1.0), ("i3", 1.0), ("i2", 1.0), ("i3", 1.0)];
    let after = order(&m.rank("a", &recent, &input), &input);
    assert_ne!(before, after);
    assert!(after.iter().position(|x| x == "i3") < before.iter().position(|x| x == "i3"));
    // An anonymous session with events is personalized too.
    let anon = order(&m.rank("session-1", &[("i3", 1.0)], &input), &input);
    assert_eq!(anon[..2], ["i2", "i3"]);
}

#[test]
fn top_n_excludes_history_and_similar_falls_back_to_popular() {
    let m = tiny_factor_model();
    let top: Vec<u32> = m.top_n("a", &[], 2).into_iter().map(|p| p.0).collect();
    assert_eq!(top, vec![1, 3]);
    assert_eq!(m.similar("unknown", 2), vec![1, 2]);
    assert_eq!(m.similar("i1", 2), vec![2, 3]);
}

#[test]
fn artifact_round_trips() {
    let m = tiny_factor_model();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.bin");
    m.save(&path).unwrap();
    let loaded = Model::load(&path).unwrap();
    assert_eq!(loaded.header, m.header);
    assert_eq!(loaded.items, m.items);
    let input = ["i3", "i1", "i0", "i2"];
    assert_eq!(loaded.rank("b", &[], &input), m.rank("b", &[], &input));
}

#[test]
fn recipes_parse_names_aliases_and_arns() {
    assert_eq!(Recipe::parse("aws-sims"), Some(Recipe::SimilarItems));
    assert_eq!(
        Recipe::parse("arn:aws:personalize:::recipe/aws-personalized-ranking"),
        Some(Recipe::PersonalizedRanking)
    );
    assert_eq!(
        Recipe::parse("attune-popularity-count"),
        Some(Recipe::PopularityCount)
    );
    assert_eq!(Recipe::parse("aws-user-personalization"), None);
}

/// The factor model's ids and histories with an EASE body: items 0-1 and 2-3 go together.
fn tiny_ease_model() -> Model {
    #[rustfmt::skip]
    let b = vec![
        0.0, 0.8, 0.0, 0.1,
        0.8, 0.0, 0.1, 0.0,
        0.0, 0.1, 0.0, 0.9,
        0.1, 0.0, 0.9, 0.0,
    ];
    Model {
        header: ModelHeader {
            algorithm: "ease".into(),
            ..tiny_factor_model().header
        },
        body: Body::Ease { b },
        ..tiny_factor_model()
    }
}

/// Neighbour lists: i0 -> [i1], i1 -> [i0, i3], i2 -> [], i3 -> [i2].
fn tiny_neighbour_model() -> Model {
    Model {
        header: ModelHeader {
            recipe: Recipe::SimilarItems,
            algorithm: "sims".into(),
            ..tiny_factor_model().header
        },
        body: Body::Neighbours {
            indptr: vec![0, 1, 3, 3, 4],
            items: vec![1, 0, 3, 2],
            scores: vec![0.9, 0.9, 0.2, 0.7],
        },
        ..tiny_factor_model()
    }
}

#[test]
fn ease_ranks_from_the_history_and_folds_in_recent_events() {
    let m = tiny_ease_model();
    let input = ["i3", "i1", "i2", "i0", "nope"];
    // "a" has i0 in its history, so i1 leads; "b" has i2, so i3 leads.
    let r = m.rank("a", &[], &input);
    assert_eq!(order(&r, &input), ["i1", "i3", "i2", "i0", "nope"]);
    let sum: f64 = r.iter().filter_map(|x| x.score).sum();
    assert!((sum - 1.0).abs() < 1e-6);
    assert_eq!(r[4].score, None);
    assert_eq!(order(&m.rank("b", &[], &input), &input)[0], "i3");
    // Recent events add to the history; an unknown user without events gets popularity.
    let after = order(&m.rank("a", &[("i2", 1.0), ("i2", 1.0)], &input), &input);
    assert_eq!(after[0], "i3");
    assert_eq!(
        order(&m.rank("stranger", &[], &input), &input),
        ["i1", "i2", "i3", "i0", "nope"]
    );
    assert_eq!(
        order(&m.rank("stranger", &[("i0", 1.0)], &input), &input)[0],
        "i1"
    );
}

#[test]
fn top_n_excludes_trained_and_recent_items() {
    for m in [tiny_factor_model(), tiny_ease_model()] {
        let top: Vec<u32> = m
            .top_n("a", &[("i1", 1.0)], 4)
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(top.len(), 2, "{}", m.header.algorithm);
        assert!(!top.contains(&0) && !top.contains(&1), "{top:?}");
        // An unknown user without events: popular items.
        let top: Vec<u32> = m
            .top_n("stranger", &[], 3)
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(top, vec![1, 2, 3]);
    }
}

#[test]
fn similar_items_fill_up_with_popular_items_and_never_return_the_item() {
    let m = tiny_neighbour_model();
    assert_eq!(m.similar("i1", 2), vec![0, 3]);
    // i0 has one neighbour; popular items fill the rest, without i0 or a repeat.
    assert_eq!(m.similar("i0", 3), vec![1, 2, 3]);
    // No neighbours: popular items other than the item.
    assert_eq!(m.similar("i2", 2), vec![1, 3]);
    assert_eq!(m.similar("unknown", 2), m.popular(2).to_vec());
    assert_eq!(m.similar("i3", 0), Vec::<u32>::new());
    // Not a personalized model: ranking is by popularity for everyone.
    let input = ["i0", "i3", "i1"];
    assert_eq!(order(&m.rank("a", &[], &input), &input), ["i1", "i3", "i0"]);

    // Every body survives the artifact round trip.
    let dir = tempfile::tempdir().unwrap();
    for (k, model) in [tiny_ease_model(), m].into_iter().enumerate() {
        let path = dir.path().join(format!("{k}.bin"));
        model.save(&path).unwrap();
        let loaded = Model::load(&path).unwrap();
        assert_eq!(loaded.header, model.header);
        assert_eq!(loaded.similar("i0", 3), model.similar("i0", 3));
        assert_eq!(loaded.rank("b", &[], &input), model.rank("b", &[], &input));
    }
}

/// The ranking as first written (index lookups, a sort to find duplicates, a stable sort by
/// score, softmax in separate passes): the reference the request-path version must match bit
/// for bit.
fn rank_reference(m: &Model, user_id: &str, recent: &[(&str, f32)], input: &[&str]) -> Vec<Ranked> {
    let mut known: Vec<(usize, u32)> = Vec::new();
    let mut unknown: Vec<usize> = Vec::new();
    for (pos, id) in input.iter().enumerate() {
        match m.items.index(id) {
            Some(i) => known.push((pos, i)),
            None if !unknown.iter().any(|&p| input[p] == *id) => unknown.push(pos),
            None => {}
        }
    }
    let mut by_item: Vec<(u32, usize)> = known.iter().map(|&(p, i)| (i, p)).collect();
    by_item.sort_unstable();
    by_item.dedup_by_key(|e| e.0);
    let mut firsts: Vec<(usize, u32)> = by_item.into_iter().map(|(i, p)| (p, i)).collect();
    firsts.sort_unstable();
    let known = firsts;
    let candidates: Vec<u32> = known.iter().map(|&(_, i)| i).collect();
    let mut scores = Vec::new();
    if !m.personal_scores(user_id, recent, &candidates, &mut scores) {
        scores = candidates
            .iter()
            .map(|&i| (1.0 + m.popularity[i as usize] as f32).ln())
            .collect();
    }
    let mut order: Vec<usize> = (0..known.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f64> = scores.iter().map(|&s| f64::from(s - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    let mut out: Vec<Ranked> = order
        .into_iter()
        .map(|k| Ranked {
            input_index: known[k].0,
            score: Some(exps[k] / sum),
        })
        .collect();
    out.extend(unknown.into_iter().map(|pos| Ranked {
        input_index: pos,
        score: None,
    }));
    out
}

/// A factor model with `n` items in `d` dimensions from a fixed pseudo-random sequence; every
/// seventh item copies item 0's vector, so scores tie.
fn random_factor_model(n: usize, d: usize, users: usize) -> Model {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let mut items: Vec<f32> = (0..n * d).map(|_| next()).collect();
    for i in (7..n).step_by(7) {
        let (head, rest) = items.split_at_mut(d);
        rest[(i - 1) * d..i * d].copy_from_slice(head);
    }
    let user_factors: Vec<f32> = (0..users * d).map(|_| next() * 4.0).collect();
    let item_ids: Vec<String> = (0..n).map(|i| format!("item-{i}")).collect();
    let user_ids: Vec<String> = (0..users).map(|u| format!("user-{u}")).collect();
    let gram = foldin::gram(&items, d);
    let popularity: Vec<u32> = (0..n as u32).map(|i| (i * 37) % 11).collect();
    let mut popular_order: Vec<u32> = (0..n as u32).collect();
    popular_order.sort_by_key(|&i| std::cmp::Reverse(popularity[i as usize]));
    Model {
        header: ModelHeader {
            recipe: Recipe::PersonalizedRanking,
            algorithm: "ials".into(),
            hyperparameters: BTreeMap::new(),
            event_type_weights: BTreeMap::new(),
            default_event_weight: 1.0,
            interactions: 0,
            trained_at: 0.0,
        },
        items: IdTable::new(&item_ids),
        users: IdTable::new(&user_ids),
        popularity,
        popular_order,
        hist_indptr: (0..=users as u64).map(|u| u * 2).collect(),
        hist_items: (0..users as u32 * 2).map(|k| k * 13 % n as u32).collect(),
        hist_weights: vec![1.0; users * 2],
        body: Body::Factors {
            d,
            users: user_factors,
            items,
            gram,
            regularization: 0.1,
            alpha: 5.0,
        },
    }
}

#[test]
fn rank_matches_the_reference_bit_for_bit() {
    let m = random_factor_model(700, 16, 20);
    let ids: Vec<String> = (0..700).map(|i| format!("item-{i}")).collect();
    // 500 distinct known items; with duplicates and unknown ids mixed in; tiny lists.
    let inputs: Vec<Vec<&str>> = vec![
        (0..500).map(|k| ids[k * 3 % 700].as_str()).collect(),
        (0..500)
            .map(|k| match k % 9 {
                0 => "unknown-a",
                4 => "unknown-b",
                _ => ids[k * 3 % 50].as_str(),
            })
            .collect(),
        vec![ids[3].as_str()],
        vec!["nope"],
        vec![
            ids[7].as_str(),
            ids[14].as_str(),
            ids[0].as_str(),
            ids[7].as_str(),
        ],
    ];
    let recent = [(ids[5].as_str(), 1.0), (ids[9].as_str(), 2.0)];
    let users: [(&str, &[(&str, f32)]); 4] = [
        ("user-3", &[]),
        ("user-4", &recent),
        ("anonymous", &recent),
        ("anonymous", &[]),
    ];
    for input in &inputs {
        for (user, recent) in users {
            let got = m.rank(user, recent, input);
            let want = rank_reference(&m, user, recent, input);
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g.input_index, w.input_index, "{user}");
                assert_eq!(
                    g.score.map(f64::to_bits),
                    w.score.map(f64::to_bits),
                    "{user}"
                );
            }
        }
    }
    // The sort key orders like f32::total_cmp, infinities and signed zeros included.
    let xs = [
        f32::NEG_INFINITY,
        -1e30,
        -1.5,
        -f32::MIN_POSITIVE,
        -0.0,
        0.0,
        1e-40,
        0.25,
        3e38,
        f32::INFINITY,
    ];
    for a in xs {
        for b in xs {
            assert_eq!(
                total_order_key(a).cmp(&total_order_key(b)),
                a.total_cmp(&b),
                "{a} {b}"
            );
        }
    }
}

#[test]
fn dispatched_factor_scores_equal_the_baseline_arithmetic() {
    // The scalar code the dispatched kernel must match bit for bit at any width.
    fn baseline_dot(a: &[f32], b: &[f32]) -> f32 {
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
    for d in [1, 3, 8, 13, 64, 100] {
        let m = random_factor_model(300, d, 5);
        let Body::Factors { users, items, .. } = &m.body else {
            panic!("not a factor model")
        };
        let candidates: Vec<u32> = (0..300).rev().collect();
        let mut out = Vec::new();
        simd::simd_exact(FactorScores {
            x: &users[..d],
            items,
            candidates: &candidates,
            out: &mut out,
        });
        for (k, &i) in candidates.iter().enumerate() {
            let want = baseline_dot(&users[..d], &items[i as usize * d..(i as usize + 1) * d]);
            assert_eq!(out[k].to_bits(), want.to_bits(), "d={d} item {i}");
        }
    }
}

#[test]
fn radix_sorted_keys_equal_the_comparison_sort() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for n in [0, 1, 2, 63, 64, 65, 300, 500, 1000] {
        for spread in [u32::MAX, 0xff, 0xff00, 3] {
            let keys: Vec<u64> = (0..n as u64)
                .map(|k| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    ((state as u32 & spread) as u64) << 32 | k
                })
                .collect();
            let mut want = keys.clone();
            want.sort_unstable();
            let mut got = keys;
            sort_keys(&mut got);
            assert_eq!(got, want, "n={n} spread={spread:x}");
        }
    }
}
