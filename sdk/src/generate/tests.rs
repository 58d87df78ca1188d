use std::collections::{HashMap, HashSet};
use std::fs;
use std::time::Instant;

use apache_avro::types::Value;

use super::*;
use crate::import::{ImportRequest, NoProgress};
use crate::store::{ImportMode, Store};
use crate::{DatasetType, Schema};

fn small() -> GenerateConfig {
    GenerateConfig {
        users: 150,
        items: 300,
        interactions: 4_000,
        seed: 7,
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap()
}

/// Creates a custom dataset group `group` in `store` with the generated schemas and imports the
/// three files (FULL).
pub(crate) fn load(store: &Store, group: &str, generated: &Generated) {
    store.create_dataset_group(group, None).unwrap();
    for (ty, schema, csv) in [
        (
            DatasetType::Interactions,
            &generated.interactions_schema,
            &generated.interactions_csv,
        ),
        (
            DatasetType::Items,
            &generated.items_schema,
            &generated.items_csv,
        ),
        (
            DatasetType::Users,
            &generated.users_schema,
            &generated.users_csv,
        ),
    ] {
        let schema_name = format!("{group}-{}", ty.as_str().to_lowercase());
        store
            .create_schema(&schema_name, &read(schema), None)
            .unwrap();
        store
            .create_dataset(group, ty, &schema_name, &schema_name)
            .unwrap();
        let job = store
            .dataset(group, ty)
            .unwrap()
            .import(
                &ImportRequest {
                    job_name: format!("{schema_name}-job"),
                    data_location: csv.display().to_string(),
                    mode: ImportMode::Full,
                },
                &NoProgress,
            )
            .unwrap_or_else(|e| panic!("importing {}: {e}", csv.display()));
        assert_eq!(job.status, "ACTIVE");
    }
}

#[test]
fn same_seed_gives_identical_files_and_another_seed_different_ones() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let ga = generate(&small(), a.path(), &NoProgress).unwrap();
    let gb = generate(&small(), b.path(), &NoProgress).unwrap();
    let other = GenerateConfig { seed: 8, ..small() };
    let gc = generate(&other, c.path(), &NoProgress).unwrap();
    for (x, y, z) in [
        (
            &ga.interactions_csv,
            &gb.interactions_csv,
            &gc.interactions_csv,
        ),
        (&ga.items_csv, &gb.items_csv, &gc.items_csv),
        (&ga.users_csv, &gb.users_csv, &gc.users_csv),
    ] {
        assert_eq!(
            fs::read(x).unwrap(),
            fs::read(y).unwrap(),
            "{}",
            x.display()
        );
        assert_ne!(
            fs::read(x).unwrap(),
            fs::read(z).unwrap(),
            "{}",
            x.display()
        );
    }
}

#[test]
fn more_interactions_keep_users_and_items() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ga = generate(&small(), a.path(), &NoProgress).unwrap();
    let more = GenerateConfig {
        interactions: 6_000,
        ..small()
    };
    let gb = generate(&more, b.path(), &NoProgress).unwrap();
    assert_eq!(read(&ga.users_csv), read(&gb.users_csv));
    assert_eq!(read(&ga.items_csv), read(&gb.items_csv));
}

#[test]
fn counts_headers_and_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let g = generate(&small(), dir.path(), &NoProgress).unwrap();
    assert_eq!((g.users, g.items, g.interactions), (150, 300, 4_000));
    for (path, header, rows) in [
        (
            &g.interactions_csv,
            "USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP",
            4_000,
        ),
        (
            &g.items_csv,
            "ITEM_ID,GENRES,PRICE,BRAND,CREATION_TIMESTAMP,TITLE",
            300,
        ),
        (&g.users_csv, "USER_ID,AGE,MEMBERSHIP", 150),
    ] {
        let text = read(path);
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(header));
        assert_eq!(lines.count(), rows, "{}", path.display());
    }
    for (path, ty) in [
        (&g.interactions_schema, DatasetType::Interactions),
        (&g.items_schema, DatasetType::Items),
        (&g.users_schema, DatasetType::Users),
    ] {
        let schema = Schema::parse(&read(path), None).unwrap();
        assert_eq!(schema.dataset_type(), ty);
    }
}

#[test]
fn zero_users_or_items_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = GenerateConfig {
        users: 0,
        ..small()
    };
    let err = generate(&cfg, dir.path(), &NoProgress).unwrap_err();
    assert!(err.to_string().contains("users"), "{err}");
    let cfg = GenerateConfig {
        items: 0,
        ..small()
    };
    let err = generate(&cfg, dir.path(), &NoProgress).unwrap_err();
    assert!(err.to_string().contains("items"), "{err}");
}

#[test]
fn every_row_imports_and_reads_back() {
    let out = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let g = generate(&small(), out.path(), &NoProgress).unwrap();
    let store = Store::open(data.path().join("store")).unwrap();
    load(&store, "gen", &g);
    let count = |ty| store.dataset("gen", ty).unwrap().bulk_rows().unwrap();
    assert_eq!(count(DatasetType::Interactions), 4_000);
    assert_eq!(count(DatasetType::Items), 300);
    assert_eq!(count(DatasetType::Users), 150);

    // Titles with commas and double quotes survive CSV quoting.
    let items = store.dataset("gen", DatasetType::Items).unwrap();
    let title = items.schema().index_of("TITLE").unwrap();
    let (mut quoted, mut comma) = (0, 0);
    items
        .scan(|_, _, row| {
            let Value::String(t) = &row[title] else {
                panic!("TITLE is {:?}", row[title])
            };
            assert!(!t.starts_with('"') || t.starts_with("\"\""), "{t}");
            quoted += usize::from(t.contains("\""));
            comma += usize::from(t.contains(", Part"));
            Ok(())
        })
        .unwrap();
    assert!(quoted > 0 && comma > 0, "{quoted} {comma}");
    let text = read(&g.items_csv);
    assert!(
        text.contains("\"The \"\""),
        "quotes are doubled in the file"
    );
}

struct Row {
    user: String,
    item: String,
    event: String,
    t: i64,
}

fn rows(g: &Generated) -> Vec<Row> {
    read(&g.interactions_csv)
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            assert_eq!(c.len(), 5, "{l}");
            let v: f32 = c[3].parse().unwrap();
            assert!(v > 0.0 && v <= 3.0, "{l}");
            Row {
                user: c[0].into(),
                item: c[1].into(),
                event: c[2].into(),
                t: c[4].parse().unwrap(),
            }
        })
        .collect()
}

#[test]
fn interactions_are_in_time_order_after_item_creation_with_skew() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = GenerateConfig {
        users: 300,
        items: 1_000,
        interactions: 20_000,
        seed: 3,
    };
    let g = generate(&cfg, dir.path(), &NoProgress).unwrap();
    let created: HashMap<String, i64> = read(&g.items_csv)
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.splitn(6, ',').collect();
            (c[0].to_owned(), c[4].parse().unwrap())
        })
        .collect();
    let rows = rows(&g);
    let mut per_item: HashMap<&str, u64> = HashMap::new();
    let mut per_event: HashMap<&str, u64> = HashMap::new();
    let mut last_t = 0;
    for r in &rows {
        assert!(r.t >= last_t, "sorted by time");
        last_t = r.t;
        assert!((WINDOW_END - WINDOW_SECS..WINDOW_END).contains(&r.t));
        assert!(created[&r.item] <= r.t, "{} before its creation", r.item);
        *per_item.entry(&r.item).or_default() += 1;
        *per_event.entry(&r.event).or_default() += 1;
    }
    // Popularity skew: the top 10% of the catalog get far more than 10% of the interactions.
    let mut counts: Vec<u64> = per_item.values().copied().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let top: u64 = counts.iter().take(cfg.items as usize / 10).sum();
    assert!(
        top * 100 > 30 * cfg.interactions,
        "top 10% items have {top}"
    );
    // Event types in realistic ratios.
    let share = |e: &str| per_event[e] as f64 / cfg.interactions as f64;
    assert!((0.6..0.8).contains(&share("view")), "{per_event:?}");
    assert!((0.15..0.25).contains(&share("click")), "{per_event:?}");
    assert!((0.04..0.1).contains(&share("add_to_cart")), "{per_event:?}");
    assert!((0.02..0.07).contains(&share("purchase")), "{per_event:?}");
    // Most users have two or more interactions.
    let mut per_user: HashMap<&str, u64> = HashMap::new();
    for r in &rows {
        *per_user.entry(&r.user).or_default() += 1;
    }
    assert!(per_user.values().filter(|&&n| n >= 2).count() > 250);
}

/// The data is learnable: ranking each user's favourite genres' popular items beats global
/// popularity on the users' last interactions.
#[test]
fn taste_beats_popularity_on_held_out_interactions() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = GenerateConfig {
        users: 400,
        items: 1_500,
        interactions: 40_000,
        seed: 11,
    };
    let g = generate(&cfg, dir.path(), &NoProgress).unwrap();
    let genres: HashMap<String, Vec<String>> = read(&g.items_csv)
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.splitn(3, ',').collect();
            (
                c[0].to_owned(),
                c[1].split('|').map(str::to_owned).collect(),
            )
        })
        .collect();
    let rows = rows(&g);
    // Hold out each user's last interaction.
    let mut last: HashMap<&str, usize> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        last.insert(&r.user, i);
    }
    let held: HashSet<usize> = last.values().copied().collect();
    let mut pop: HashMap<&str, f64> = HashMap::new();
    let mut taste: HashMap<&str, HashMap<&str, f64>> = HashMap::new();
    let mut seen: HashMap<&str, HashSet<&str>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if held.contains(&i) {
            continue;
        }
        *pop.entry(&r.item).or_default() += 1.0;
        let t = taste.entry(&r.user).or_default();
        for genre in &genres[&r.item] {
            *t.entry(genre).or_default() += 1.0;
        }
        seen.entry(&r.user).or_default().insert(&r.item);
    }
    let top_k = |score: &dyn Fn(&str) -> f64, user: &str| -> Vec<String> {
        let mut scored: Vec<(&str, f64)> = pop
            .keys()
            .filter(|i| !seen.get(user).is_some_and(|s| s.contains(*i)))
            .map(|i| (*i, score(i)))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        scored
            .into_iter()
            .take(20)
            .map(|(i, _)| i.to_owned())
            .collect()
    };
    let (mut hits_pop, mut hits_taste, mut n) = (0, 0, 0);
    for &i in &held {
        let r = &rows[i];
        let Some(t) = taste.get(r.user.as_str()) else {
            continue;
        };
        n += 1;
        let total: f64 = t.values().sum();
        let by_pop = top_k(&|i| pop[i], &r.user);
        let by_taste = top_k(
            &|i| {
                let affinity: f64 = genres[i]
                    .iter()
                    .map(|g| t.get(g.as_str()).unwrap_or(&0.0))
                    .sum();
                pop[i] * (0.05 + affinity / total)
            },
            &r.user,
        );
        hits_pop += usize::from(by_pop.contains(&r.item));
        hits_taste += usize::from(by_taste.contains(&r.item));
    }
    println!("hit rate@20: taste {hits_taste}/{n}, popularity {hits_pop}/{n}");
    assert!(n > 300);
    assert!(
        hits_taste as f64 > 1.3 * hits_pop as f64,
        "hit rate@20: taste {hits_taste}/{n}, popularity {hits_pop}/{n}"
    );
}

#[test]
fn alias_table_follows_the_weights() {
    let alias = Alias::new(&[1.0, 0.0, 3.0, 4.0]);
    let mut rng = rng_for(1, 0);
    let mut counts = [0u32; 4];
    for _ in 0..80_000 {
        counts[alias.sample(&mut rng)] += 1;
    }
    assert_eq!(counts[1], 0);
    for (i, expect) in [(0, 10_000.0), (2, 30_000.0), (3, 40_000.0)] {
        let got = f64::from(counts[i]);
        assert!((got - expect).abs() < expect * 0.05, "{counts:?}");
    }
}

#[test]
fn number_formatting() {
    let mut b = Vec::new();
    push_u64(&mut b, 0);
    b.push(b' ');
    push_u64(&mut b, 1_700_000_000);
    b.push(b' ');
    push_cents(&mut b, 5);
    b.push(b' ');
    push_cents(&mut b, 1_299);
    assert_eq!(String::from_utf8(b).unwrap(), "0 1700000000 0.05 12.99");
    assert_ne!(brand_name(0), brand_name(1));
    let names: HashSet<String> = (0..800).map(brand_name).collect();
    assert_eq!(names.len(), 800);
}

/// Timings at scale (release build): `RUN_SLOW_TESTS=1 cargo test --release -p attune
/// generate::tests::at_scale -- --nocapture`.
#[test]
fn at_scale() {
    if std::env::var_os("RUN_SLOW_TESTS").is_none() {
        println!("skipped: set RUN_SLOW_TESTS=1 to time 1M and 10M interactions");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (users, items, interactions) in [
        (50_000, 20_000, 1_000_000),
        (50_000, 20_000, 10_000_000),
        (500_000, 200_000, 10_000_000),
    ] {
        let cfg = GenerateConfig {
            users,
            items,
            interactions,
            seed: 42,
        };
        let out = dir.path().join(format!("gen-{users}-{interactions}"));
        let start = Instant::now();
        let g = generate(&cfg, &out, &NoProgress).unwrap();
        let size = fs::metadata(&g.interactions_csv).unwrap().len();
        println!(
            "generate {interactions} interactions ({users} users, {items} items): {:.2?}, \
             interactions.csv {} MB",
            start.elapsed(),
            size >> 20
        );
        if interactions == 1_000_000 {
            let store = Store::open(dir.path().join("store")).unwrap();
            let start = Instant::now();
            load(&store, "scale", &g);
            println!(
                "import 1M interactions + items + users: {:.2?}",
                start.elapsed()
            );
            let start = Instant::now();
            let insights = crate::insights::dataset_group_insights(&store, "scale").unwrap();
            println!("insights on 1M interactions: {:.2?}", start.elapsed());
            println!("{insights}");
        }
    }
}
