//! Training data: the dataset group's interactions (both partitions, the effective view) and
//! item metadata, turned into dense indices and a weighted user-item matrix.

use std::collections::HashMap;

use apache_avro::types::Value;

use crate::error::{Error, Result};
use crate::schema::DatasetType;
use crate::store::Store;

use super::matrix::Csr;

/// Which interactions train a solution (Personalize's solution config).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DataConfig {
    /// Only events of this type (all types when `None`).
    pub event_type: Option<String>,
    /// Only events whose EVENT_VALUE is at least this (needs `event_type`).
    pub event_value_threshold: Option<f32>,
}

/// One interaction with dense indices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    /// User index.
    pub user: u32,
    /// Item index.
    pub item: u32,
    /// Unix seconds.
    pub timestamp: i64,
    /// Index into [`TrainingData::event_types`].
    pub event_type: u16,
}

/// Items-dataset metadata, per item index.
#[derive(Debug, Clone, Default)]
pub struct ItemFeatures {
    /// `FIELD=value` tokens of the categorical fields.
    pub categorical: Vec<Vec<String>>,
    /// The textual field's text.
    pub text: Vec<String>,
}

/// The interactions and items of a dataset group, indexed densely.
#[derive(Debug, Clone, Default)]
pub struct TrainingData {
    /// User ids by index.
    pub users: Vec<String>,
    /// Item ids by index: items with interactions first, then Items-dataset items without any.
    pub items: Vec<String>,
    /// How many items have interactions (they are `0..interacted_items`).
    pub interacted_items: usize,
    /// Event types by index (the empty string when the dataset has no EVENT_TYPE).
    pub event_types: Vec<String>,
    /// The interactions, in storage order.
    pub events: Vec<Event>,
    /// Item metadata when an Items dataset exists.
    pub features: Option<ItemFeatures>,
}

impl TrainingData {
    /// The latest interaction timestamp (0 when there are none).
    pub fn max_timestamp(&self) -> i64 {
        self.events.iter().map(|e| e.timestamp).max().unwrap_or(0)
    }

    /// Each user's history as (timestamp, item), in time order.
    pub fn histories(&self) -> Vec<Vec<(i64, u32)>> {
        let mut h: Vec<Vec<(i64, u32)>> = vec![Vec::new(); self.users.len()];
        for e in &self.events {
            h[e.user as usize].push((e.timestamp, e.item));
        }
        for list in &mut h {
            list.sort_by_key(|p| p.0);
        }
        h
    }

    /// Each user's events as (item, event-type weight), in time order (ties keep storage
    /// order); users `users` leaves out get an empty sequence.
    pub fn sequences(&self, type_weights: &[f32], users: Option<&[bool]>) -> Vec<Vec<(u32, f32)>> {
        let mut h: Vec<Vec<(i64, u32, f32)>> = vec![Vec::new(); self.users.len()];
        for e in &self.events {
            if users.is_none_or(|keep| keep[e.user as usize]) {
                let w = type_weights
                    .get(e.event_type as usize)
                    .copied()
                    .unwrap_or(1.0);
                h[e.user as usize].push((e.timestamp, e.item, w));
            }
        }
        h.into_iter()
            .map(|mut list| {
                list.sort_by_key(|p| p.0);
                list.into_iter().map(|(_, i, w)| (i, w)).collect()
            })
            .collect()
    }

    /// The weighted users × items matrix over the interacted items: each event adds
    /// `weight(event type) × 0.5^(age / half_life)` (no decay when `half_life_days` is 0).
    pub fn matrix(&self, type_weights: &[f32], half_life_days: f32, users: Option<&[bool]>) -> Csr {
        let max_ts = self.max_timestamp();
        let triplets: Vec<(u32, u32, f32)> = self
            .events
            .iter()
            .filter(|e| users.is_none_or(|keep| keep[e.user as usize]))
            .map(|e| {
                let w = type_weights
                    .get(e.event_type as usize)
                    .copied()
                    .unwrap_or(1.0);
                (
                    e.user,
                    e.item,
                    w * decay(max_ts - e.timestamp, half_life_days),
                )
            })
            .collect();
        Csr::from_triplets(self.users.len(), self.interacted_items, &triplets)
    }
}

/// `0.5^(age / half_life)`; 1 when `half_life_days` is 0 or the age is not positive.
pub fn decay(age_secs: i64, half_life_days: f32) -> f32 {
    if half_life_days <= 0.0 || age_secs <= 0 {
        return 1.0;
    }
    let half_life = f64::from(half_life_days) * 86_400.0;
    0.5f64.powf(age_secs as f64 / half_life) as f32
}

fn string_of(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        _ => None,
    }
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(f64::from(*f)),
        Value::Double(f) => Some(*f),
        Value::Int(i) => Some(f64::from(*i)),
        Value::Long(i) => Some(*i as f64),
        _ => None,
    }
}

/// Loads a dataset group's training data: the effective interactions filtered by `config`, and
/// the Items dataset's categorical and textual fields when it exists.
pub fn load(store: &Store, group: &str, config: &DataConfig) -> Result<TrainingData> {
    let interactions = store.dataset(group, DatasetType::Interactions)?;
    let schema = interactions.schema().clone();
    let col = |name: &str| schema.index_of(name);
    let (user_col, item_col, ts_col) = (
        col("USER_ID").expect("required field"),
        col("ITEM_ID").expect("required field"),
        col("TIMESTAMP").expect("required field"),
    );
    let (type_col, value_col) = (col("EVENT_TYPE"), col("EVENT_VALUE"));
    if config.event_type.is_some() && type_col.is_none() {
        return Err(Error::InvalidInput(
            "the solution names an eventType but the Interactions schema has no EVENT_TYPE field"
                .into(),
        ));
    }

    let mut data = TrainingData::default();
    let mut user_index: HashMap<String, u32> = HashMap::new();
    let mut item_index: HashMap<String, u32> = HashMap::new();
    let mut type_index: HashMap<String, u16> = HashMap::new();
    for_each(&interactions, |values| {
        let event_type = type_col.and_then(|c| string_of(&values[c])).unwrap_or("");
        if let Some(want) = &config.event_type {
            if event_type != want {
                return Ok(());
            }
            if let Some(threshold) = config.event_value_threshold {
                let v = value_col.and_then(|c| number_of(&values[c]));
                if v.is_none_or(|v| v < f64::from(threshold)) {
                    return Ok(());
                }
            }
        }
        let (Some(user), Some(item)) = (string_of(&values[user_col]), string_of(&values[item_col]))
        else {
            return Ok(());
        };
        let timestamp = match &values[ts_col] {
            Value::Long(t) => *t,
            _ => 0,
        };
        let u = intern(&mut user_index, &mut data.users, user);
        let i = intern(&mut item_index, &mut data.items, item);
        let t = match type_index.get(event_type) {
            Some(&t) => t,
            None => {
                let t = data.event_types.len() as u16;
                data.event_types.push(event_type.to_owned());
                type_index.insert(event_type.to_owned(), t);
                t
            }
        };
        data.events.push(Event {
            user: u,
            item: i,
            timestamp,
            event_type: t,
        });
        Ok(())
    })?;
    data.interacted_items = data.items.len();

    if let Ok(items) = store.dataset(group, DatasetType::Items) {
        let schema = items.schema().clone();
        let id_col = schema.index_of("ITEM_ID").expect("required field");
        let cat_cols: Vec<(usize, String)> = schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| f.categorical)
            .map(|(i, f)| (i, f.name.clone()))
            .collect();
        let text_col = schema.fields().iter().position(|f| f.textual);
        let mut features = ItemFeatures::default();
        for_each(&items, |values| {
            let Some(id) = string_of(&values[id_col]) else {
                return Ok(());
            };
            let i = intern(&mut item_index, &mut data.items, id) as usize;
            if features.categorical.len() <= i {
                features.categorical.resize(i + 1, Vec::new());
                features.text.resize(i + 1, String::new());
            }
            let tokens = &mut features.categorical[i];
            tokens.clear();
            for (c, name) in &cat_cols {
                if let Some(v) = string_of(&values[*c]) {
                    tokens.extend(v.split('|').map(|part| format!("{name}={part}")));
                }
            }
            features.text[i] = text_col
                .and_then(|c| string_of(&values[c]))
                .unwrap_or("")
                .to_owned();
            Ok(())
        })?;
        features.categorical.resize(data.items.len(), Vec::new());
        features.text.resize(data.items.len(), String::new());
        data.features = Some(features);
    }
    Ok(data)
}

/// Calls `f` on every record of the dataset's training view.
fn for_each(
    dataset: &crate::store::Dataset,
    mut f: impl FnMut(&[Value]) -> Result<()>,
) -> Result<()> {
    for values in dataset.effective_records()? {
        f(&values)?;
    }
    Ok(())
}

fn intern(index: &mut HashMap<String, u32>, ids: &mut Vec<String>, id: &str) -> u32 {
    if let Some(&i) = index.get(id) {
        return i;
    }
    let i = ids.len() as u32;
    ids.push(id.to_owned());
    index.insert(id.to_owned(), i);
    i
}

/// The minimum-data rules of `spec/models.md` section 0, checked before training.
pub fn check_minimums(data: &TrainingData, config: &DataConfig) -> Result<()> {
    let filtered = match &config.event_type {
        Some(t) => format!(" after filtering by event type {t}"),
        None => String::new(),
    };
    let n = data.events.len();
    if n < 1000 {
        return Err(Error::InvalidInput(format!(
            "Create failed. Dataset has fewer than 1000 interactions{filtered}: it has {n}. \
             Import or record at least {} more",
            1000 - n
        )));
    }
    let mut per_user = vec![0u32; data.users.len()];
    for e in &data.events {
        per_user[e.user as usize] += 1;
    }
    let two_plus = per_user.iter().filter(|&&c| c >= 2).count();
    if two_plus < 25 {
        return Err(Error::InvalidInput(format!(
            "Create failed. Dataset has fewer than 25 users with at least 2 interactions each \
             ({two_plus}{filtered})"
        )));
    }
    if (two_plus as f64) < 0.01 * data.users.len() as f64 {
        return Err(Error::InvalidInput(format!(
            "Create failed. Fewer than 1% of users have at least 2 interactions each \
             ({two_plus} of {}{filtered})",
            data.users.len()
        )));
    }
    let types = data.event_types.len();
    if types > 10 {
        return Err(Error::InvalidInput(format!(
            "Create failed. The Interactions dataset has {types} unique event types; at most \
             10 are allowed"
        )));
    }
    Ok(())
}
