use apache_avro::types::Value;

use super::analyze::{hash_bytes, Duplicates};
use super::*;
use crate::schema::Schema;
use crate::store::Origin;

const INTERACTIONS: &str = r#"{"type": "record", "name": "Interactions", "fields": [
  {"name": "USER_ID", "type": "string"},
  {"name": "ITEM_ID", "type": "string"},
  {"name": "EVENT_TYPE", "type": "string"},
  {"name": "EVENT_VALUE", "type": ["float", "null"]},
  {"name": "TIMESTAMP", "type": "long"}
]}"#;

const ITEMS: &str = r#"{"type": "record", "name": "Items", "fields": [
  {"name": "ITEM_ID", "type": "string"},
  {"name": "GENRES", "type": ["null", "string"], "categorical": true},
  {"name": "PRICE", "type": ["float", "null"]},
  {"name": "DESCRIPTION", "type": ["null", "string"], "textual": true}
]}"#;

const USERS: &str = r#"{"type": "record", "name": "Users", "fields": [
  {"name": "USER_ID", "type": "string"},
  {"name": "AGE", "type": ["int", "null"]}
]}"#;

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

fn interaction(user: &str, item: &str, event: &str, ts: i64) -> Vec<Value> {
    vec![
        s(user),
        s(item),
        s(event),
        Value::Float(1.0),
        Value::Long(ts),
    ]
}

/// Runs the analysis of `rows` of `schema` (all BULK) alone in a group.
fn analyze(schema: &str, rows: impl IntoIterator<Item = Vec<Value>>) -> DatasetAnalyzer {
    let schema = Schema::parse(schema, None).unwrap();
    let mut a = DatasetAnalyzer::new(&schema);
    for row in rows {
        a.add(Origin::Bulk, &row);
    }
    a
}

fn insights(analyzers: Vec<DatasetAnalyzer>) -> GroupInsights {
    GroupInsights::from_analyzers("g", analyzers)
}

fn find<'a>(i: &'a GroupInsights, needle: &str) -> Option<&'a Finding> {
    i.findings.iter().find(|f| f.message.contains(needle))
}

/// `n` interactions: `active` users with two each, the rest one each, over 4 event types.
fn interactions(n: usize, active: usize) -> Vec<Vec<Value>> {
    (0..n)
        .map(|k| {
            let user = if k < 2 * active {
                format!("u{}", k / 2)
            } else {
                format!("single{k}")
            };
            let event = ["view", "click", "add_to_cart", "purchase"][k % 4];
            interaction(
                &user,
                &format!("i{}", k % 50),
                event,
                1_600_000_000 + k as i64,
            )
        })
        .collect()
}

#[test]
fn thirty_rows_report_too_few_interactions_and_users() {
    let a = analyze(INTERACTIONS, interactions(30, 0));
    let i = insights(vec![a]);
    let f = find(&i, "only 30 interactions").expect("the 30-interactions finding");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.dataset, "Interactions");
    assert_eq!(
        f.message,
        "The Interactions dataset has only 30 interactions. Model training requires a minimum \
         of 1,000 interactions. We recommend at least 50,000."
    );
    assert!(f
        .action
        .starts_with("Import 970 additional unique interactions records"));
    let f = find(&i, "only 0 unique users with two or more interactions")
        .expect("the active-users finding");
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("requires at least 25 such users"));
    assert!(i.has_errors());
    let stats = i.dataset(DatasetType::Interactions).unwrap();
    let s = stats.interactions.as_ref().unwrap();
    assert_eq!(
        (s.interactions, s.unique_users, s.unique_items),
        (30, 30, 30)
    );
    assert_eq!(s.users_with_two_or_more_interactions, 0);
    assert_eq!(s.event_types["view"], 8);
    assert_eq!(
        (s.min_timestamp, s.max_timestamp),
        (Some(1_600_000_000), Some(1_600_000_029))
    );
    assert_eq!(
        stats.records,
        RecordCounts {
            bulk: 30,
            put: 0,
            total: 30
        }
    );
    assert_eq!(stats.column_count, 5);
}

#[test]
fn interaction_count_thresholds() {
    let i = insights(vec![analyze(INTERACTIONS, interactions(999, 500))]);
    assert_eq!(
        find(&i, "only 999 interactions").unwrap().severity,
        Severity::Error
    );
    let i = insights(vec![analyze(INTERACTIONS, interactions(1_000, 500))]);
    let f = find(&i, "only 1,000 interactions").unwrap();
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(
        f.action,
        "Import 49,000 additional unique interactions records"
    );
    let i = insights(vec![analyze(INTERACTIONS, interactions(50_000, 1_000))]);
    assert!(
        find(&i, "interactions. Model training").is_none(),
        "{:?}",
        i.findings
    );
}

#[test]
fn active_user_thresholds() {
    let i = insights(vec![analyze(INTERACTIONS, interactions(1_000, 24))]);
    assert_eq!(
        find(&i, "only 24 unique users with two or more")
            .unwrap()
            .severity,
        Severity::Error
    );
    let i = insights(vec![analyze(INTERACTIONS, interactions(1_000, 25))]);
    assert_eq!(
        find(&i, "only 25 unique users with two or more")
            .unwrap()
            .severity,
        Severity::Warning
    );
    let i = insights(vec![analyze(INTERACTIONS, interactions(2_000, 1_000))]);
    assert!(find(&i, "unique users with two or more").is_none());
    // Fewer than 1% of the users with two or more interactions.
    let i = insights(vec![analyze(INTERACTIONS, interactions(3_000, 25))]);
    let f = find(&i, "of the users in the Interactions dataset (25 of 2,975)").unwrap();
    assert_eq!(f.severity, Severity::Error);
}

#[test]
fn event_types_and_timestamps() {
    let rows = |types: usize, same_time: bool| -> Vec<Vec<Value>> {
        (0..1_000)
            .map(|k| {
                let ts = if same_time {
                    1_586_731_606
                } else {
                    1_586_731_606 + k as i64
                };
                interaction(
                    &format!("u{}", k % 100),
                    "i1",
                    &format!("e{}", k % types),
                    ts,
                )
            })
            .collect()
    };
    let i = insights(vec![analyze(INTERACTIONS, rows(11, false))]);
    let f = find(&i, "more than 10 unique event types (11)").unwrap();
    assert_eq!(f.severity, Severity::Error);
    assert!(find(&i, "same timestamp").is_none());
    let i = insights(vec![analyze(INTERACTIONS, rows(10, true))]);
    assert!(find(&i, "unique event types").is_none());
    let f = find(&i, "the same timestamp for all records (1586731606)").unwrap();
    assert_eq!(f.severity, Severity::Warning);
}

fn item(id: &str, genres: Option<&str>, price: Option<f32>, text: Option<&str>) -> Vec<Value> {
    vec![
        s(id),
        genres.map_or(Value::Null, s),
        price.map_or(Value::Null, Value::Float),
        text.map_or(Value::Null, s),
    ]
}

#[test]
fn column_completeness_categories_and_text() {
    // 100 items: DESCRIPTION 84% complete, PRICE 69% complete, GENRES 1001 categories.
    let rows: Vec<Vec<Value>> = (0..100)
        .map(|k| {
            let genres: Vec<String> = (0..11)
                .map(|j| format!("g{}", (k * 11 + j) % 1_001))
                .collect();
            item(
                &format!("i{k}"),
                Some(&genres.join("|")),
                (k < 69).then_some(10.0),
                (k < 84).then_some("a description"),
            )
        })
        .collect();
    let i = insights(vec![
        analyze(INTERACTIONS, interactions(1_000, 100)),
        analyze(ITEMS, rows),
    ]);
    let f = find(&i, "less than 70% complete").unwrap();
    assert_eq!(f.dataset, "Items");
    assert!(
        f.message.ends_with("PRICE (69.0% complete)"),
        "{}",
        f.message
    );
    let f = find(
        &i,
        "textual metadata column(s) of the Items dataset are less than 85%",
    )
    .unwrap();
    assert!(
        f.message.ends_with("DESCRIPTION (84.0% complete)"),
        "{}",
        f.message
    );
    let f = find(&i, "more than 1,000 possible categories").unwrap();
    assert!(
        f.message.ends_with("GENRES (1,001 categories)"),
        "{}",
        f.message
    );
    let f = find(
        &i,
        "The Items dataset has 31.0% rows with a missing value (31 of 100)",
    )
    .unwrap();
    assert_eq!(f.severity, Severity::Info);
    let items = i.dataset(DatasetType::Items).unwrap();
    assert_eq!(items.columns[1].distinct, DistinctCount::Exact(1_001));
    assert_eq!(items.unique_ids, Some(100));

    // At the thresholds nothing is reported.
    let rows: Vec<Vec<Value>> = (0..100)
        .map(|k| {
            item(
                &format!("i{k}"),
                Some(&format!("g{}", k % 10)),
                (k < 70).then_some(10.0),
                (k < 85).then_some("a description"),
            )
        })
        .collect();
    let i = insights(vec![
        analyze(INTERACTIONS, interactions(1_000, 100)),
        analyze(ITEMS, rows),
    ]);
    assert!(find(&i, "less than 70% complete").is_none());
    assert!(find(&i, "textual metadata").is_none());
    assert!(find(&i, "possible categories").is_none());
}

#[test]
fn items_and_users_without_interactions() {
    let inter: Vec<Vec<Value>> = (0..1_000)
        .map(|k| interaction(&format!("u{}", k % 3), &format!("i{}", k % 6), "view", k))
        .collect();
    let items: Vec<Vec<Value>> = (0..10)
        .map(|k| item(&format!("i{k}"), Some("a"), Some(1.0), Some("t")))
        .collect();
    let users: Vec<Vec<Value>> = (0..4)
        .map(|k| vec![s(&format!("u{k}")), Value::Int(30)])
        .chain((0..40).map(|k| vec![s(&format!("x{k}")), Value::Int(30)]))
        .collect();
    let i = insights(vec![
        analyze(USERS, users),
        analyze(ITEMS, items),
        analyze(INTERACTIONS, inter),
    ]);
    let f = find(&i, "of items in the Items dataset").unwrap();
    assert_eq!(
        f.message,
        "40.0% of items in the Items dataset (4 of 10) have no interactions in the Interactions \
         dataset, so they might not be recommended."
    );
    assert_eq!(f.severity, Severity::Info);
    let f = find(&i, "of users in the Users dataset").unwrap();
    assert!(
        f.message
            .starts_with("93.2% of users in the Users dataset (41 of 44)"),
        "{}",
        f.message
    );
    assert!(f
        .message
        .ends_with("These users will receive recommendations for popular items."));
    assert_eq!(f.severity, Severity::Warning);
    // Datasets come out in a fixed order whatever the input order.
    let order: Vec<&str> = i.datasets.iter().map(|d| d.dataset_type.as_str()).collect();
    assert_eq!(order, ["Interactions", "Users", "Items"]);
}

#[test]
fn outliers_by_interquartile_range() {
    let rows: Vec<Vec<Value>> = (0..100)
        .map(|k| {
            item(
                &format!("i{k}"),
                Some("a"),
                Some(if k == 99 { 1_000.0 } else { k as f32 }),
                Some("t"),
            )
        })
        .collect();
    let i = insights(vec![
        analyze(INTERACTIONS, interactions(1_000, 100)),
        analyze(ITEMS, rows),
    ]);
    let f = find(&i, "have outliers").unwrap();
    assert!(
        f.message.ends_with("PRICE (1.0% of values)"),
        "{}",
        f.message
    );
    let price = &i.dataset(DatasetType::Items).unwrap().columns[2];
    assert_eq!((price.min, price.max), (Some(0.0), Some(1_000.0)));
    // A column whose quartiles are equal has no outliers.
    let rows: Vec<Vec<Value>> = (0..100)
        .map(|k| {
            item(
                &format!("i{k}"),
                Some("a"),
                Some(if k < 90 { 5.0 } else { 500.0 }),
                Some("t"),
            )
        })
        .collect();
    let i = insights(vec![
        analyze(INTERACTIONS, interactions(1_000, 100)),
        analyze(ITEMS, rows),
    ]);
    assert!(find(&i, "have outliers").is_none());
}

#[test]
fn reserved_keywords_duplicates_and_missing_values() {
    let mut rows = interactions(1_000, 100);
    rows.push(interaction("USER_ID", "ITEM_ID", "EVENT_TYPE", 1));
    rows.push(rows[5].clone());
    rows.push(rows[5].clone());
    let mut null_value = rows[6].clone();
    null_value[3] = Value::Null;
    rows.push(null_value);
    let i = insights(vec![analyze(INTERACTIONS, rows)]);
    let f = find(&i, "reserved keyword").unwrap();
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.message.ends_with(
            "USER_ID (1 value(s), e.g. USER_ID), ITEM_ID (1 value(s), e.g. ITEM_ID), EVENT_TYPE \
             (1 value(s), e.g. EVENT_TYPE)"
        ),
        "{}",
        f.message
    );
    let d = i.dataset(DatasetType::Interactions).unwrap();
    assert_eq!(d.duplicate_rows, 2);
    assert!(!d.duplicate_rows_estimated);
    assert_eq!(d.rows_with_missing_values, 1);
    assert_eq!(d.columns[3].missing, 1);
    assert!(
        find(&i, "0.1% rows with a missing value (1 of 1,004)").is_some(),
        "{:?}",
        i.findings
    );
    // "Value" in another case is not the keyword.
    let i = insights(vec![analyze(
        INTERACTIONS,
        vec![interaction("Value", "value", "view", 1)],
    )]);
    assert!(find(&i, "reserved keyword").is_none());
}

#[test]
fn put_rows_and_anonymous_events_are_counted_apart() {
    let schema = Schema::parse(INTERACTIONS, None).unwrap();
    let mut a = DatasetAnalyzer::new(&schema);
    for row in interactions(10, 5) {
        a.add(Origin::Bulk, &row);
    }
    a.add(Origin::Put, &interaction("u0", "i9", "view", 5));
    a.add(
        Origin::Put,
        &[Value::Null, s("i9"), s("view"), Value::Null, Value::Long(6)],
    );
    let i = insights(vec![a]);
    let d = i.dataset(DatasetType::Interactions).unwrap();
    assert_eq!(
        d.records,
        RecordCounts {
            bulk: 10,
            put: 2,
            total: 12
        }
    );
    let s = d.interactions.as_ref().unwrap();
    assert_eq!(
        (s.interactions, s.anonymous_interactions, s.unique_users),
        (11, 1, 5)
    );
    assert!(find(&i, "only 11 interactions").is_some());
}

#[test]
fn distinct_counts_are_capped() {
    let schema = Schema::parse(USERS, None).unwrap();
    let mut a = DatasetAnalyzer::new(&schema);
    for k in 0..(DISTINCT_CAP + 5) {
        a.add(
            Origin::Bulk,
            &[s(&format!("u{k}")), Value::Int((k % 50) as i32)],
        );
    }
    let i = insights(vec![a]);
    let users = i.dataset(DatasetType::Users).unwrap();
    assert_eq!(
        users.columns[0].distinct,
        DistinctCount::MoreThan(DISTINCT_CAP)
    );
    assert_eq!(users.columns[1].distinct, DistinctCount::Exact(50));
    assert_eq!(users.unique_ids, Some(DISTINCT_CAP + 5));
    let json = serde_json::to_value(&i).unwrap();
    assert_eq!(json["datasets"][0]["columns"][0]["distinct"], ">100000");
    assert_eq!(json["datasets"][0]["columns"][1]["distinct"], 50);
    // No Interactions dataset at all is an error.
    let f = find(&i, "no Interactions dataset").unwrap();
    assert_eq!(
        (f.severity, f.dataset.as_str()),
        (Severity::Error, "DatasetGroup")
    );
}

#[test]
fn duplicates_are_estimated_beyond_the_cap() {
    let mut d = Duplicates::with_cap(1_000);
    for k in 0u64..20_000 {
        let fp = hash_bytes(&k.to_le_bytes());
        d.add(fp);
        if k % 4 == 0 {
            d.add(fp);
        }
    }
    let (n, estimated) = d.finish();
    assert!(estimated);
    assert!((3_500..6_500).contains(&n), "{n}");
    let mut d = Duplicates::with_cap(1_000);
    for k in 0u64..500 {
        d.add(hash_bytes(&(k % 400).to_le_bytes()));
    }
    assert_eq!(d.finish(), (100, false));
}

#[test]
fn json_shape_and_text_summary() {
    let i = insights(vec![analyze(INTERACTIONS, interactions(30, 0))]);
    let json = serde_json::to_value(&i).unwrap();
    assert_eq!(json["datasetGroup"], "g");
    let d = &json["datasets"][0];
    assert_eq!(d["datasetType"], "Interactions");
    assert_eq!(d["records"]["total"], 30);
    assert_eq!(d["columnCount"], 5);
    assert_eq!(d["columns"][4]["type"], "long");
    assert_eq!(d["interactions"]["uniqueUsers"], 30);
    assert_eq!(d["interactions"]["usersWithTwoOrMoreInteractions"], 0);
    assert_eq!(d["interactions"]["eventTypes"]["click"], 8);
    assert_eq!(json["findings"][0]["severity"], "error");
    let text = i.to_string();
    assert!(
        text.starts_with("Data insights for dataset group g\n"),
        "{text}"
    );
    assert!(text.contains("Interactions: 30 records (30 bulk, 0 put), 5 columns, 0 duplicate rows"));
    assert!(
        text.contains("time range 2020-09-13 12:26:40 to 2020-09-13 12:27:09 UTC"),
        "{text}"
    );
    assert!(
        text.contains("event types: click 8, view 8, add_to_cart 7, purchase 7"),
        "{text}"
    );
    assert!(
        text.contains("[error] Interactions: The Interactions dataset has only 30"),
        "{text}"
    );
}

#[test]
fn dates_and_numbers() {
    assert_eq!(text::utc(0), "1970-01-01 00:00:00");
    assert_eq!(text::utc(1_700_000_000), "2023-11-14 22:13:20");
    assert_eq!(text::utc(951_782_400), "2000-02-29 00:00:00");
    assert_eq!(findings::count(0), "0");
    assert_eq!(findings::count(1_000), "1,000");
    assert_eq!(findings::count(12_345_678), "12,345,678");
    assert_eq!(findings::pct(0.01), "<0.1");
    assert_eq!(findings::pct(99.99), ">99.9");
    assert_eq!(findings::pct(40.0), "40.0");
}

#[test]
fn group_insights_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    assert!(matches!(
        dataset_group_insights(&store, "nope"),
        Err(crate::Error::NotFound { .. })
    ));
    store.create_dataset_group("empty", None).unwrap();
    let i = dataset_group_insights(&store, "empty").unwrap();
    assert!(i.datasets.is_empty());
    assert!(find(&i, "no Interactions dataset").is_some());
}

/// Counts on a generated dataset imported into a store match the files.
#[cfg(feature = "import")]
#[test]
fn counts_on_generated_data() {
    use std::collections::{HashMap, HashSet};

    use crate::generate::{generate, GenerateConfig};
    use crate::import::NoProgress;

    let out = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let cfg = GenerateConfig {
        users: 200,
        items: 400,
        interactions: 5_000,
        seed: 5,
    };
    let g = generate(&cfg, out.path(), &NoProgress).unwrap();
    let store = Store::open(data.path().join("store")).unwrap();
    crate::generate::tests::load(&store, "gen", &g);
    let i = dataset_group_insights(&store, "gen").unwrap();

    let text = std::fs::read_to_string(&g.interactions_csv).unwrap();
    let mut users: HashMap<&str, u64> = HashMap::new();
    let mut items: HashSet<&str> = HashSet::new();
    let mut events: HashMap<&str, u64> = HashMap::new();
    let mut lines: HashSet<&str> = HashSet::new();
    let mut dups = 0;
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    for line in text.lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        *users.entry(c[0]).or_default() += 1;
        items.insert(c[1]);
        *events.entry(c[2]).or_default() += 1;
        let t: i64 = c[4].parse().unwrap();
        lo = lo.min(t);
        hi = hi.max(t);
        dups += u64::from(!lines.insert(line));
    }
    let d = i.dataset(DatasetType::Interactions).unwrap();
    assert_eq!(d.records.total, 5_000);
    assert_eq!(d.duplicate_rows, dups);
    let s = d.interactions.as_ref().unwrap();
    assert_eq!(s.interactions, 5_000);
    assert_eq!(s.unique_users, users.len() as u64);
    assert_eq!(s.unique_items, items.len() as u64);
    assert_eq!(
        s.users_with_two_or_more_interactions,
        users.values().filter(|&&n| n >= 2).count() as u64
    );
    for (e, n) in &events {
        assert_eq!(s.event_types[*e], *n, "{e}");
    }
    assert_eq!((s.min_timestamp, s.max_timestamp), (Some(lo), Some(hi)));
    let expect_sparsity = 1.0 - 5_000.0 / (users.len() as f64 * items.len() as f64);
    assert!((s.sparsity - expect_sparsity).abs() < 1e-9);

    let items_d = i.dataset(DatasetType::Items).unwrap();
    assert_eq!(items_d.records.total, 400);
    assert_eq!(items_d.unique_ids, Some(400));
    assert_eq!(items_d.columns.iter().map(|c| c.missing).sum::<u64>(), 0);
    let genres = items_d.columns.iter().find(|c| c.name == "GENRES").unwrap();
    assert_eq!(genres.distinct, DistinctCount::Exact(20));
    let users_d = i.dataset(DatasetType::Users).unwrap();
    assert_eq!(users_d.records.total, 200);
    let age = users_d.columns.iter().find(|c| c.name == "AGE").unwrap();
    assert!(age.min.unwrap() >= 18.0 && age.max.unwrap() <= 78.0);

    // Generated data is clean: only the "fewer than recommended" and coverage findings.
    for f in &i.findings {
        assert_ne!(f.severity, Severity::Error, "{f:?}");
        assert!(
            f.message.contains("only 5,000 interactions")
                || f.message.contains("unique users with two or more")
                || f.message.contains("have no interactions")
                || f.message.contains("outliers"),
            "{f:?}"
        );
    }
    let unseen = 400 - items.len();
    if unseen > 0 {
        assert!(find(
            &i,
            &format!("of items in the Items dataset ({unseen} of 400)")
        )
        .is_some());
    }
    println!("{i}");
}
