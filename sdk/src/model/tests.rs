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
