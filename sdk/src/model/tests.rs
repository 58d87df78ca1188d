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
