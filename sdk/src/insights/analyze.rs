//! The one-pass accumulator of a dataset's statistics.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use apache_avro::types::Value;

use super::{
    ColumnStats, DatasetInsights, DistinctCount, InteractionStats, RecordCounts, DISTINCT_CAP,
    DUPLICATE_TRACKING_CAP, NUMERIC_SAMPLE,
};
use crate::schema::{DatasetType, Field, Schema};
use crate::store::Origin;

/// Names that cannot appear as values (D-5): every required and reserved field name.
pub(super) const RESERVED_KEYWORDS: [&str; 13] = [
    "USER_ID",
    "ITEM_ID",
    "TIMESTAMP",
    "EVENT_TYPE",
    "EVENT_VALUE",
    "IMPRESSION",
    "RECOMMENDATION_ID",
    "EVENT_ATTRIBUTION_SOURCE",
    "CREATION_TIMESTAMP",
    "ACTION_ID",
    "VALUE",
    "ACTION_EXPIRATION_TIMESTAMP",
    "REPEAT_FREQUENCY",
];

/// Event type names tracked individually; further names are counted under `(other)`.
const MAX_EVENT_TYPES: usize = 1_000;

const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// The splitmix64 finalizer: a bijective mix of 64 bits.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A 64-bit hash of a byte string (8 bytes per step).
pub(super) fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        h = mix(h ^ u64::from_le_bytes(c.try_into().expect("8-byte chunk")));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut tail = [0u8; 8];
        tail[..rest.len()].copy_from_slice(rest);
        h = mix(h ^ u64::from_le_bytes(tail));
    }
    mix(h ^ K)
}

/// A hash of a plain value; equal values of one type hash equally.
pub(super) fn hash_value(v: &Value) -> u64 {
    match v {
        Value::Null => K,
        Value::String(s) => hash_bytes(s.as_bytes()),
        Value::Int(i) => mix((*i as u64) ^ 0x1111),
        Value::Long(i) => mix((*i as u64) ^ 0x2222),
        Value::Float(f) => mix(u64::from(f.to_bits()) ^ 0x3333),
        Value::Double(f) => mix(f.to_bits() ^ 0x4444),
        Value::Boolean(b) => mix(u64::from(*b) ^ 0x5555),
        other => hash_bytes(format!("{other:?}").as_bytes()),
    }
}

/// A hasher for keys that are already hashes.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = hash_bytes(bytes);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub(super) type HashSet64 = HashSet<u64, BuildHasherDefault<PreHashed>>;
pub(super) type HashMap64<V> = HashMap<u64, V, BuildHasherDefault<PreHashed>>;

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(f64::from(*i)),
        Value::Long(i) => Some(*i as f64),
        Value::Float(f) => Some(f64::from(*f)),
        Value::Double(f) => Some(*f),
        _ => None,
    }
}

fn reserved_keyword(s: &str) -> Option<&'static str> {
    if !(5..=27).contains(&s.len()) || !s.as_bytes()[0].is_ascii_uppercase() {
        return None;
    }
    RESERVED_KEYWORDS.iter().copied().find(|k| *k == s)
}

/// Min, max, mean and a uniform sample of a numeric column.
#[derive(Debug)]
struct Numeric {
    min: f64,
    max: f64,
    sum: f64,
    count: u64,
    sample: Vec<f64>,
    rng: u64,
}

impl Numeric {
    fn new() -> Numeric {
        Numeric {
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sum: 0.0,
            count: 0,
            sample: Vec::new(),
            rng: K,
        }
    }

    fn add(&mut self, x: f64) {
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        self.sum += x;
        self.count += 1;
        if self.sample.len() < NUMERIC_SAMPLE {
            self.sample.push(x);
        } else {
            // Reservoir sampling (algorithm R) with a fixed seed: reproducible.
            self.rng = self.rng.wrapping_add(K);
            let j = mix(self.rng) % self.count;
            if (j as usize) < NUMERIC_SAMPLE {
                self.sample[j as usize] = x;
            }
        }
    }

    /// The percentage of values beyond 1.5 × IQR from the quartiles (of the sample), or `None`
    /// when the quartiles are equal.
    fn outlier_percent(&mut self) -> Option<f64> {
        if self.sample.len() < 4 {
            return None;
        }
        self.sample.sort_unstable_by(f64::total_cmp);
        let q1 = quantile(&self.sample, 0.25);
        let q3 = quantile(&self.sample, 0.75);
        let iqr = q3 - q1;
        if iqr <= 0.0 {
            return None;
        }
        let (lo, hi) = (q1 - 1.5 * iqr, q3 + 1.5 * iqr);
        let out = self.sample.iter().filter(|x| **x < lo || **x > hi).count();
        Some(out as f64 * 100.0 / self.sample.len() as f64)
    }
}

/// Linear-interpolated quantile of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let i = pos.floor() as usize;
    let frac = pos - i as f64;
    match sorted.get(i + 1) {
        Some(next) => sorted[i] + (next - sorted[i]) * frac,
        None => sorted[i],
    }
}

#[derive(Debug)]
struct Column {
    field: Field,
    missing: u64,
    distinct: HashSet64,
    capped: bool,
    numeric: Option<Numeric>,
    reserved: u64,
    reserved_example: Option<&'static str>,
}

impl Column {
    fn add_distinct(&mut self, h: u64) {
        if self.capped {
            return;
        }
        self.distinct.insert(h);
        if self.distinct.len() as u64 > DISTINCT_CAP {
            self.capped = true;
            self.distinct = HashSet64::default();
        }
    }

    fn note_reserved(&mut self, s: &str) {
        if let Some(k) = reserved_keyword(s) {
            self.reserved += 1;
            self.reserved_example.get_or_insert(k);
        }
    }
}

/// Row fingerprints for duplicate counting, sampled by hash beyond the cap.
#[derive(Debug)]
pub(super) struct Duplicates {
    fingerprints: Vec<u64>,
    shift: u32,
    cap: usize,
}

impl Duplicates {
    pub(super) fn with_cap(cap: usize) -> Duplicates {
        Duplicates {
            fingerprints: Vec::new(),
            shift: 0,
            cap,
        }
    }

    pub(super) fn add(&mut self, fp: u64) {
        let mask = (1u64 << self.shift) - 1;
        if fp & mask != 0 {
            return;
        }
        self.fingerprints.push(fp);
        if self.fingerprints.len() > self.cap {
            self.shift += 1;
            let mask = (1u64 << self.shift) - 1;
            self.fingerprints.retain(|f| f & mask == 0);
        }
    }

    /// Rows equal to an earlier row, and whether the count is estimated.
    pub(super) fn finish(mut self) -> (u64, bool) {
        self.fingerprints.sort_unstable();
        let mut dups = 0u64;
        for w in self.fingerprints.windows(2) {
            dups += u64::from(w[0] == w[1]);
        }
        (dups << self.shift, self.shift > 0)
    }
}

/// The Interactions-specific part.
#[derive(Debug)]
struct Interactions {
    user: Option<usize>,
    item: Option<usize>,
    event_type: Option<usize>,
    timestamp: Option<usize>,
    users: HashMap64<u32>,
    items: HashSet64,
    interactions: u64,
    anonymous: u64,
    event_types: HashMap<String, u64>,
    min_ts: Option<i64>,
    max_ts: Option<i64>,
}

/// Computes the statistics of one dataset in one pass over its rows, keeping summaries and
/// hashed ids only. Feed it every row with [`add`](Self::add), then hand it to
/// [`GroupInsights::from_analyzers`](super::GroupInsights::from_analyzers).
#[derive(Debug)]
pub struct DatasetAnalyzer {
    dataset_type: DatasetType,
    bulk: u64,
    put: u64,
    columns: Vec<Column>,
    rows_with_missing: u64,
    duplicates: Duplicates,
    id_column: Option<usize>,
    ids: HashSet64,
    interactions: Option<Interactions>,
    hashes: Vec<u64>,
}

/// A finished analyzer: the public statistics plus what the cross-dataset findings need.
#[derive(Debug)]
pub(super) struct Finished {
    pub insights: DatasetInsights,
    pub dataset_type: DatasetType,
    /// Users/Items: the hashed ids.
    pub ids: HashSet64,
    /// Interactions: hashed USER_IDs (with counts) and ITEM_IDs.
    pub interaction_users: HashMap64<u32>,
    pub interaction_items: HashSet64,
    /// Per column, a reserved keyword found in it.
    pub reserved_examples: Vec<Option<&'static str>>,
}

impl DatasetAnalyzer {
    /// An analyzer for rows of `schema` (values in schema order, as [`Dataset::scan`] gives
    /// them).
    ///
    /// [`Dataset::scan`]: crate::Dataset::scan
    pub fn new(schema: &Schema) -> DatasetAnalyzer {
        let dataset_type = schema.dataset_type();
        let columns = schema
            .fields()
            .iter()
            .map(|f| Column {
                field: f.clone(),
                missing: 0,
                distinct: HashSet64::default(),
                capped: false,
                numeric: f.ty.is_numeric().then(Numeric::new),
                reserved: 0,
                reserved_example: None,
            })
            .collect();
        let interactions = (dataset_type == DatasetType::Interactions).then(|| Interactions {
            user: schema.index_of("USER_ID"),
            item: schema.index_of("ITEM_ID"),
            event_type: schema.index_of("EVENT_TYPE"),
            timestamp: schema.index_of("TIMESTAMP"),
            users: HashMap64::default(),
            items: HashSet64::default(),
            interactions: 0,
            anonymous: 0,
            event_types: HashMap::new(),
            min_ts: None,
            max_ts: None,
        });
        DatasetAnalyzer {
            dataset_type,
            bulk: 0,
            put: 0,
            columns,
            rows_with_missing: 0,
            duplicates: Duplicates::with_cap(DUPLICATE_TRACKING_CAP),
            id_column: dataset_type.id_field().and_then(|f| schema.index_of(f)),
            ids: HashSet64::default(),
            interactions,
            hashes: Vec::new(),
        }
    }

    /// The dataset type of the schema.
    pub fn dataset_type(&self) -> DatasetType {
        self.dataset_type
    }

    /// Rows added so far.
    pub fn rows(&self) -> u64 {
        self.bulk + self.put
    }

    /// Adds one row: plain values in schema order (extra values are ignored, missing ones
    /// count as null).
    pub fn add(&mut self, origin: Origin, row: &[Value]) {
        match origin {
            Origin::Bulk => self.bulk += 1,
            Origin::Put => self.put += 1,
        }
        self.hashes.clear();
        let mut fingerprint = K;
        let mut any_missing = false;
        for (i, col) in self.columns.iter_mut().enumerate() {
            let v = row.get(i).unwrap_or(&Value::Null);
            let h = hash_value(v);
            self.hashes.push(h);
            fingerprint = mix(fingerprint.rotate_left(7) ^ h);
            if matches!(v, Value::Null) {
                col.missing += 1;
                any_missing = true;
                continue;
            }
            match v {
                Value::String(s) if col.field.categorical => {
                    for part in s.split('|') {
                        col.add_distinct(hash_bytes(part.as_bytes()));
                        col.note_reserved(part);
                    }
                }
                Value::String(s) => {
                    col.add_distinct(h);
                    col.note_reserved(s);
                }
                _ => col.add_distinct(h),
            }
            if let (Some(num), Some(x)) = (&mut col.numeric, as_f64(v)) {
                num.add(x);
            }
        }
        if any_missing {
            self.rows_with_missing += 1;
        }
        self.duplicates.add(fingerprint);
        if let Some(i) = self.id_column {
            if !matches!(row.get(i), None | Some(Value::Null)) {
                self.ids.insert(self.hashes[i]);
            }
        }
        if let Some(acc) = &mut self.interactions {
            let has_user = acc
                .user
                .and_then(|i| row.get(i))
                .is_some_and(|v| matches!(v, Value::String(s) if !s.is_empty()));
            if !has_user {
                acc.anonymous += 1;
                return;
            }
            acc.interactions += 1;
            if let Some(i) = acc.user {
                let n = acc.users.entry(self.hashes[i]).or_insert(0);
                *n = n.saturating_add(1);
            }
            if let Some(i) = acc.item {
                if !matches!(row.get(i), None | Some(Value::Null)) {
                    acc.items.insert(self.hashes[i]);
                }
            }
            if let Some(Value::String(t)) = acc.event_type.and_then(|i| row.get(i)) {
                if let Some(n) = acc.event_types.get_mut(t.as_str()) {
                    *n += 1;
                } else if acc.event_types.len() < MAX_EVENT_TYPES {
                    acc.event_types.insert(t.clone(), 1);
                } else {
                    *acc.event_types.entry("(other)".to_owned()).or_insert(0) += 1;
                }
            }
            if let Some(ts) = acc
                .timestamp
                .and_then(|i| row.get(i))
                .and_then(|v| match v {
                    Value::Long(t) => Some(*t),
                    Value::Int(t) => Some(i64::from(*t)),
                    _ => None,
                })
            {
                acc.min_ts = Some(acc.min_ts.map_or(ts, |m| m.min(ts)));
                acc.max_ts = Some(acc.max_ts.map_or(ts, |m| m.max(ts)));
            }
        }
    }

    pub(super) fn finish(self) -> Finished {
        let total = self.bulk + self.put;
        let percent = |n: u64| {
            if total == 0 {
                0.0
            } else {
                n as f64 * 100.0 / total as f64
            }
        };
        let mut reserved_examples = Vec::with_capacity(self.columns.len());
        let columns: Vec<ColumnStats> = self
            .columns
            .into_iter()
            .map(|mut c| {
                reserved_examples.push(c.reserved_example);
                let distinct = if c.capped {
                    DistinctCount::MoreThan(DISTINCT_CAP)
                } else {
                    DistinctCount::Exact(c.distinct.len() as u64)
                };
                let numeric = c.numeric.as_mut().filter(|n| n.count > 0);
                let (min, max, mean) = match &numeric {
                    Some(n) => (Some(n.min), Some(n.max), Some(n.sum / n.count as f64)),
                    None => (None, None, None),
                };
                let outlier_percent = numeric.and_then(Numeric::outlier_percent);
                ColumnStats {
                    name: c.field.name.clone(),
                    ty: c.field.ty.as_str().to_owned(),
                    categorical: c.field.categorical,
                    textual: c.field.textual,
                    missing: c.missing,
                    missing_percent: percent(c.missing),
                    distinct,
                    min,
                    max,
                    mean,
                    outlier_percent,
                    reserved_keyword_values: c.reserved,
                }
            })
            .collect();
        let (duplicate_rows, duplicate_rows_estimated) = self.duplicates.finish();
        let (interactions, interaction_users, interaction_items) = match self.interactions {
            Some(acc) => {
                let unique_users = acc.users.len() as u64;
                let unique_items = acc.items.len() as u64;
                let cells = unique_users as f64 * unique_items as f64;
                let sparsity = if cells > 0.0 {
                    (1.0 - acc.interactions as f64 / cells).max(0.0)
                } else {
                    0.0
                };
                let stats = InteractionStats {
                    interactions: acc.interactions,
                    anonymous_interactions: acc.anonymous,
                    unique_users,
                    unique_items,
                    users_with_two_or_more_interactions: acc
                        .users
                        .values()
                        .filter(|&&n| n >= 2)
                        .count() as u64,
                    event_types: acc.event_types.into_iter().collect(),
                    min_timestamp: acc.min_ts,
                    max_timestamp: acc.max_ts,
                    sparsity,
                };
                (Some(stats), acc.users, acc.items)
            }
            None => (None, HashMap64::default(), HashSet64::default()),
        };
        let unique_ids = self.id_column.map(|_| self.ids.len() as u64);
        Finished {
            insights: DatasetInsights {
                dataset_type: self.dataset_type.as_str().to_owned(),
                records: RecordCounts {
                    bulk: self.bulk,
                    put: self.put,
                    total,
                },
                column_count: columns.len(),
                columns,
                rows_with_missing_values: self.rows_with_missing,
                duplicate_rows,
                duplicate_rows_estimated,
                unique_ids,
                interactions,
            },
            dataset_type: self.dataset_type,
            ids: self.ids,
            interaction_users,
            interaction_items,
            reserved_examples,
        }
    }
}
