//! Settings and [`fit`] on hand-built data: Personalize's keys that Attune accepts, and the
//! featurization percentiles' effect on the fitted model.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;

use super::data::{Event, ItemFeatures, TrainingData};
use super::*;
use crate::import::NoProgress;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn settings_of(recipe: Recipe, pairs: &[(&str, &str)]) -> Settings {
    recipe_settings(recipe, &map(pairs), 1).unwrap()
}

fn error_of(recipe: Recipe, pairs: &[(&str, &str)]) -> String {
    let err = recipe_settings(recipe, &map(pairs), 1).unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
    err.to_string()
}

fn fit_of(data: &TrainingData, keep: Option<&[bool]>, settings: &Settings) -> Model {
    fit(data, keep, settings, &NoProgress, &AtomicBool::new(false)).unwrap()
}

/// Two tastes over items `a0`..`a9` and `b0`..`b9` (a genre token each): users `u0`..`u19`
/// take six `a` items once each, `u20`..`u39` six `b` items, and `heavy` takes `a0`..`a7`
/// three times each (24 events, the longest history by far). Every `a` item has 12 light
/// users, so `a0`..`a7` have 15 interactions and the others 12.
fn two_tastes() -> TrainingData {
    let mut users: Vec<String> = (0..40).map(|u| format!("u{u}")).collect();
    users.push("heavy".into());
    let items: Vec<String> = (0..20)
        .map(|i| format!("{}{}", if i < 10 { 'a' } else { 'b' }, i % 10))
        .collect();
    let mut events = Vec::new();
    let mut t = 1_600_000_000;
    let mut push = |user: u32, item: u32| {
        t += 60;
        events.push(Event {
            user,
            item,
            timestamp: t,
            event_type: 0,
        });
    };
    for u in 0..40u32 {
        let base = if u < 20 { 0 } else { 10 };
        for j in 0..6 {
            push(u, base + (u + j) % 10);
        }
    }
    for _ in 0..3 {
        for i in 0..8 {
            push(40, i);
        }
    }
    let categorical = (0..20)
        .map(|i| vec![format!("G={}", if i < 10 { 'a' } else { 'b' })])
        .collect();
    TrainingData {
        users,
        items,
        interacted_items: 20,
        event_types: vec![String::new()],
        events,
        features: Some(ItemFeatures {
            categorical,
            text: vec![String::new(); 20],
        }),
    }
}

/// Every user but `heavy` (the last).
fn without_heavy(data: &TrainingData) -> Vec<bool> {
    let mut keep = vec![true; data.users.len()];
    keep[data.users.len() - 1] = false;
    keep
}

#[test]
fn personalize_ranking_keys_are_accepted_and_recorded() {
    let s = settings_of(Recipe::PersonalizedRanking, &[]);
    assert_eq!(s.hyperparameters["bptt"], "32");
    assert_eq!(s.hyperparameters["min_user_history_length_percentile"], "0");
    assert_eq!(s.hyperparameters["max_user_history_length_percentile"], "1");
    assert!(s.user_band.keeps_all() && s.item_band.keeps_all());

    // Personalized-Ranking v1's table with Personalize's defaults, as copied from a solution.
    let s = settings_of(
        Recipe::PersonalizedRanking,
        &[
            ("hidden_dimension", "149"),
            ("bptt", "10"),
            ("recency_mask", "true"),
            ("min_user_history_length_percentile", "0.0"),
            ("max_user_history_length_percentile", "0.99"),
        ],
    );
    assert_eq!(s.hyperparameters["bptt"], "10");
    assert_eq!(
        s.hyperparameters["max_user_history_length_percentile"],
        "0.99"
    );
    assert_eq!(
        s.user_band,
        PercentileBand {
            min: 0.0,
            max: 0.99
        }
    );

    for (pairs, words) in [
        (&[("bptt", "1")][..], &["bptt", "[2, 32]"][..]),
        (&[("bptt", "33")][..], &["bptt", "[2, 32]"][..]),
        (
            &[("max_user_history_length_percentile", "1.01")][..],
            &["max_user_history_length_percentile", "[0, 1]"][..],
        ),
        (
            &[
                ("min_user_history_length_percentile", "0.6"),
                ("max_user_history_length_percentile", "0.4"),
            ][..],
            &[
                "min_user_history_length_percentile",
                "max_user_history_length_percentile",
            ][..],
        ),
        // Item percentiles are Similar-Items' only.
        (
            &[("max_item_interaction_count_percentile", "0.9")][..],
            &["max_item_interaction_count_percentile", "not known"][..],
        ),
    ] {
        let err = error_of(Recipe::PersonalizedRanking, pairs);
        for w in words {
            assert!(err.contains(w), "{pairs:?}: {err:?} does not name {w:?}");
        }
    }
}

#[test]
fn personalize_sims_keys_are_accepted_and_checked() {
    let s = settings_of(Recipe::SimilarItems, &[]);
    for (k, v) in [
        ("min_user_history_length_percentile", "0"),
        ("max_user_history_length_percentile", "1"),
        ("min_item_interaction_count_percentile", "0"),
        ("max_item_interaction_count_percentile", "1"),
    ] {
        assert_eq!(s.hyperparameters[k], v, "{k}");
    }
    // SIMS's table with Personalize's defaults.
    let s = settings_of(
        Recipe::SimilarItems,
        &[
            ("popularity_discount_factor", "0.5"),
            ("min_cointeraction_count", "3"),
            ("min_user_history_length_percentile", "0.005"),
            ("max_user_history_length_percentile", "0.995"),
            ("min_item_interaction_count_percentile", "0.01"),
            ("max_item_interaction_count_percentile", "0.9"),
        ],
    );
    assert_eq!(
        (
            s.user_band.min,
            s.user_band.max,
            s.item_band.min,
            s.item_band.max
        ),
        (0.005, 0.995, 0.01, 0.9)
    );
    let err = error_of(
        Recipe::SimilarItems,
        &[
            ("min_item_interaction_count_percentile", "0.5"),
            ("max_item_interaction_count_percentile", "0.2"),
        ],
    );
    assert!(
        err.contains("min_item_interaction_count_percentile")
            && err.contains("max_item_interaction_count_percentile"),
        "{err}"
    );
    let err = error_of(
        Recipe::SimilarItems,
        &[("min_item_interaction_count_percentile", "x")],
    );
    assert!(
        err.contains("min_item_interaction_count_percentile") && err.contains("not a number"),
        "{err}"
    );
    // `bptt` is Personalized-Ranking's only.
    assert!(error_of(Recipe::SimilarItems, &[("bptt", "32")]).contains("bptt"));
    // Personalize's Similar-Items table: its embedding widths are accepted (no effect) and
    // range-checked.
    let s = settings_of(
        Recipe::SimilarItems,
        &[
            ("popularity_discount_factor", "0.0"),
            ("item_id_hidden_dim", "120"),
            ("item_metadata_hidden_dim", "30"),
        ],
    );
    assert_eq!(s.hyperparameters["item_id_hidden_dim"], "120");
    assert_eq!(s.hyperparameters["item_metadata_hidden_dim"], "30");
    let err = error_of(Recipe::SimilarItems, &[("item_id_hidden_dim", "201")]);
    assert!(
        err.contains("item_id_hidden_dim") && err.contains("[30, 200]"),
        "{err}"
    );
}

#[test]
fn apply_recency_bias_is_recency_mask() {
    // Personalized-Ranking-v2's only key switches the same recency weighting.
    let on = settings_of(Recipe::PersonalizedRanking, &[]);
    let off = settings_of(
        Recipe::PersonalizedRanking,
        &[("apply_recency_bias", "false")],
    );
    let half_lives = |s: &Settings| match &s.plan {
        Plan::Ranking {
            half_life_days,
            ease_half_life_days,
            ..
        } => (*half_life_days, *ease_half_life_days),
        _ => unreachable!("a ranking plan"),
    };
    assert!(half_lives(&on).0 > 0.0 && half_lives(&on).1 > 0.0);
    assert_eq!(half_lives(&off), (0.0, 0.0));
    assert_eq!(off.hyperparameters["recency_mask"], "false");
    let err = error_of(
        Recipe::PersonalizedRanking,
        &[("apply_recency_bias", "yes")],
    );
    assert!(err.contains("apply_recency_bias"), "{err}");
}

/// The history band drops `heavy` from fitting: the item side is exactly the model trained
/// without them, while they stay a known user ranked from their own history.
#[test]
fn a_user_outside_the_history_band_is_ranked_but_not_fitted() {
    let data = two_tastes();
    for algorithm in ["ials", "ease"] {
        let base = [
            ("algorithm", algorithm),
            ("factors", "8"),
            ("iterations", "10"),
        ];
        let banded: Vec<(&str, &str)> = base
            .iter()
            .copied()
            .chain([("max_user_history_length_percentile", "0.9")])
            .collect();
        let plain = settings_of(Recipe::PersonalizedRanking, &base);
        let all = fit_of(&data, None, &plain);
        let model = fit_of(
            &data,
            None,
            &settings_of(Recipe::PersonalizedRanking, &banded),
        );
        let keep = without_heavy(&data);
        let alone = fit_of(&data, Some(&keep), &plain);

        // Popularity: every item heavy took counts one user fewer; the fitted interactions
        // lose heavy's eight distinct items.
        for i in 0..20 {
            let drop = u32::from(i < 8);
            assert_eq!(
                model.popularity[i],
                all.popularity[i] - drop,
                "{algorithm}: item {i}"
            );
        }
        assert_eq!(model.popularity, alone.popularity);
        assert_eq!(model.header.interactions, all.header.interactions - 8);
        // The item side is the model fitted without heavy.
        match (&model.body, &alone.body) {
            (Body::Factors { items: a, .. }, Body::Factors { items: b, .. }) => assert_eq!(a, b),
            (Body::Ease { b: a }, Body::Ease { b }) => assert_eq!(a, b),
            other => panic!("{algorithm}: {other:?}"),
        }

        // Heavy is known, with their whole history, and ranked from it: the `a` items they did
        // not take come before every `b` item, exactly as a session with their history.
        let heavy = model.users.index("heavy").expect("heavy is a known user");
        let history: Vec<(u32, f32)> = model.trained_history(heavy).collect();
        assert_eq!(history.len(), 8);
        let input = ["b0", "a8", "b1", "a9", "b2"];
        let ranked = model.rank("heavy", &[], &input);
        let order: Vec<&str> = ranked.iter().map(|r| input[r.input_index]).collect();
        assert!(
            order[..2].contains(&"a8") && order[..2].contains(&"a9"),
            "{algorithm}: {order:?}"
        );
        let recent: Vec<(&str, f32)> = history
            .iter()
            .map(|&(i, w)| (model.item_id(i), w))
            .collect();
        assert_eq!(
            ranked,
            model.rank("a-session", &recent, &input),
            "{algorithm}"
        );
        if let Body::Factors {
            d,
            users,
            items,
            gram,
            ..
        } = &model.body
        {
            let x = &users[heavy as usize * d..(heavy as usize + 1) * d];
            assert!(x.iter().any(|&v| v != 0.0));
            assert_eq!(x, ials::fold_in(items, gram, *d, 3.0, 1.0, &history));
        }
        // Everyone else keeps their fitted vector.
        if let (Body::Factors { users: a, d, .. }, Body::Factors { users: b, .. }) =
            (&model.body, &alone.body)
        {
            assert_eq!(a[..40 * d], b[..40 * d]);
        }
    }
}

/// Evaluation's `keep` and the band compose: the thresholds are taken over the kept users, and
/// a user outside either is not fitted.
#[test]
fn the_history_band_composes_with_keep() {
    let data = two_tastes();
    let band = PercentileBand { min: 0.0, max: 0.9 };
    let keep = without_heavy(&data);
    // Without heavy every kept history has six events: nobody is dropped.
    let b = percentile::apply(&data, Some(&keep), band, PercentileBand::ALL);
    assert_eq!(b, percentile::Bands::default());
    // Without u0, heavy is still the one dropped; u0 is not fitted either.
    let mut keep = vec![true; data.users.len()];
    keep[0] = false;
    let b = percentile::apply(&data, Some(&keep), band, PercentileBand::ALL);
    let fit_users = b.fit_users.unwrap();
    assert!(!fit_users[0] && !fit_users[40]);
    assert!(fit_users[1..40].iter().all(|&k| k));

    // Evaluation's model: heavy is out of the item side, u0 out of the histories too.
    let s = settings_of(
        Recipe::PersonalizedRanking,
        &[
            ("algorithm", "ease"),
            ("max_user_history_length_percentile", "0.9"),
        ],
    );
    let model = fit_of(&data, Some(&keep), &s);
    assert_eq!(model.trained_history(0).count(), 0);
    assert_eq!(model.trained_history(40).count(), 8);
    assert_eq!(model.popularity[0], 11, "a0: 12 light users but u0");
}

#[test]
fn similar_items_bands_leave_users_and_items_out() {
    let data = two_tastes();
    let base = [("min_cointeraction_count", "1")];
    let plain = settings_of(Recipe::SimilarItems, &base);
    let neighbours = |m: &Model, item: &str| -> Vec<String> {
        let i = m.items.index(item).unwrap();
        let Body::Neighbours { indptr, items, .. } = &m.body else {
            panic!("not a neighbours model");
        };
        items[indptr[i as usize] as usize..indptr[i as usize + 1] as usize]
            .iter()
            .map(|&j| m.item_id(j).to_owned())
            .collect()
    };

    // The history band: the neighbour lists and popularity of the model fitted without heavy.
    let users: Vec<(&str, &str)> = base
        .iter()
        .copied()
        .chain([("max_user_history_length_percentile", "0.9")])
        .collect();
    let model = fit_of(&data, None, &settings_of(Recipe::SimilarItems, &users));
    let keep = without_heavy(&data);
    let alone = fit_of(&data, Some(&keep), &plain);
    let all = fit_of(&data, None, &plain);
    assert_eq!(model.popularity, alone.popularity);
    assert_ne!(model.popularity, all.popularity);
    let lists = |m: &Model| -> Vec<Vec<String>> {
        (0..20)
            .map(|i| neighbours(m, m.item_id(i as u32)))
            .collect::<Vec<_>>()
    };
    assert_eq!(lists(&model), lists(&alone));
    assert!(model.users.index("heavy").is_some());

    // The count band: Q(0.5) of the counts (twelve 12s, eight 15s) is 12, so a0..a7 (heavy's)
    // are out; Q(0.5) of 12 for the minimum keeps the rest.
    let items: Vec<(&str, &str)> = base
        .iter()
        .copied()
        .chain([
            ("min_item_interaction_count_percentile", "0.5"),
            ("max_item_interaction_count_percentile", "0.5"),
        ])
        .collect();
    let model = fit_of(&data, None, &settings_of(Recipe::SimilarItems, &items));
    let out: Vec<String> = (0..8).map(|i| format!("a{i}")).collect();
    for list in lists(&model) {
        assert!(list.iter().all(|j| !out.contains(j)), "{list:?}");
    }
    // a8's collaborative neighbours lose a0..a7 and keep a9; a left-out item answers from its
    // genre only (the a items left in), as an item without interactions does.
    assert_eq!(neighbours(&model, "a8"), ["a9"]);
    assert_eq!(neighbours(&model, "a0"), ["a8", "a9"]);
    assert_eq!(model.similar("a0", 2), model.similar("a1", 2));
    // The b side is unchanged.
    assert_eq!(neighbours(&model, "b3"), neighbours(&all, "b3"));
    // Popularity still counts every user, but a left-out item pads no list and is not among
    // the popular items.
    assert_eq!(model.popularity, all.popularity);
    let everything = model.items.len();
    let left_out = |m: &Model, i: u32| out.contains(&m.item_id(i).to_owned());
    assert!(
        all.popular(everything).iter().any(|&i| left_out(&all, i)),
        "without the band, a0..a7 are popular"
    );
    for &i in model.popular(everything) {
        assert!(!left_out(&model, i), "a popular {}", model.item_id(i));
    }
    for j in model.similar("b3", everything) {
        assert!(!left_out(&model, j), "b3's list has {}", model.item_id(j));
    }
    assert_eq!(model.popular(everything).len(), everything - out.len());
}
