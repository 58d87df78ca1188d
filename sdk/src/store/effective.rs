//! The effective view of a dataset (`spec/data.md` D-19, 5.3, 5.6): what training, filters and
//! insights see once the BULK and PUT partitions are merged.
//!
//! - Users, Items, Actions: the latest record per id across both partitions, by ingestion
//!   sequence number and then position (a later record with the same id replaces an earlier
//!   one, so PutItems/PutUsers and INCREMENTAL imports upsert).
//! - Interactions, Action_Interactions: every row of both partitions in ingestion order, minus
//!   exact duplicates (identical values in every schema field, TIMESTAMP included: "keeps only
//!   one of the events"), minus rows whose eventId was already seen ("any subsequent events
//!   after the first with the same event ID are not used"). Anonymous events (PutEvents without
//!   a userId; USER_ID holds the sessionId) take the userId of the first event that carried both
//!   that sessionId and a userId ("stitching"); those never associated stay anonymous.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};

use apache_avro::types::Value;

use super::{log, record_values, Dataset, Origin};
use crate::error::{Error, Result};

/// One record of the effective view.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveRecord {
    /// The partition it comes from.
    pub origin: Origin,
    /// Its ingestion sequence number (all rows of one bulk segment share one).
    pub seq: u64,
    /// The values in schema order; for a stitched anonymous event, USER_ID is the userId its
    /// session was associated with.
    pub values: Vec<Value>,
    /// The sessionId of a PUT event.
    pub session_id: Option<String>,
    /// A PUT event without a userId whose session was never associated with one: USER_ID holds
    /// the sessionId. Training leaves these out (spec 5.6).
    pub anonymous: bool,
}

impl Dataset {
    /// The effective view: every record that counts, in ingestion order (see the module
    /// documentation), anonymous events included.
    pub fn effective(&self) -> Result<Vec<EffectiveRecord>> {
        let mut rows = self.all_rows()?;
        // Ingestion order; the sort is stable, so rows of one segment keep their file order.
        rows.sort_by_key(|r| r.seq);
        match self.dataset_type().id_field() {
            Some(id_field) => Ok(self.latest_per_id(rows, id_field)),
            None => Ok(self.interactions(rows)),
        }
    }

    /// The training view: [`Dataset::effective`] without anonymous events, values only.
    pub fn effective_records(&self) -> Result<Vec<Vec<Value>>> {
        Ok(self
            .effective()?
            .into_iter()
            .filter(|r| !r.anonymous)
            .map(|r| r.values)
            .collect())
    }

    fn all_rows(&self) -> Result<Vec<Row>> {
        let nfields = self.schema.fields().len();
        let mut rows = Vec::new();
        let mut values = Vec::with_capacity(nfields);
        for seg in self.segments()? {
            let path = self.bulk_dir().join(&seg.file);
            let file = fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
            let reader = apache_avro::Reader::new(std::io::BufReader::new(file))?;
            for value in reader {
                record_values(&path, value?, nfields, &mut values)?;
                rows.push(Row {
                    origin: Origin::Bulk,
                    seq: seg.seq,
                    values: std::mem::take(&mut values),
                    session_id: None,
                    event_id: None,
                    anonymous: false,
                });
            }
        }
        log::read(self, |e| {
            rows.push(Row {
                origin: Origin::Put,
                seq: e.seq,
                values: e.values.to_vec(),
                session_id: e.session_id.map(str::to_owned),
                event_id: e.event_id.map(str::to_owned),
                anonymous: e.anonymous,
            });
            Ok(())
        })?;
        Ok(rows)
    }

    fn latest_per_id(&self, rows: Vec<Row>, id_field: &str) -> Vec<EffectiveRecord> {
        let Some(id_at) = self.schema.index_of(id_field) else {
            return rows.into_iter().map(Row::into_record).collect();
        };
        // The position of the last row per id; rows are in ingestion order.
        let mut last: HashMap<String, usize> = HashMap::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            if let Value::String(id) = &row.values[id_at] {
                last.insert(id.clone(), i);
            }
        }
        rows.into_iter()
            .enumerate()
            .filter(|(i, row)| match &row.values[id_at] {
                Value::String(id) => last.get(id) == Some(i),
                _ => true,
            })
            .map(|(_, row)| row.into_record())
            .collect()
    }

    fn interactions(&self, rows: Vec<Row>) -> Vec<EffectiveRecord> {
        let user_at = self.schema.index_of("USER_ID");
        let mut seen_rows: HashSet<u128> = HashSet::with_capacity(rows.len());
        let mut seen_events: HashSet<String> = HashSet::new();
        // sessionId -> the userId of the first event that carried both.
        let mut sessions: HashMap<String, Value> = HashMap::new();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(id) = &row.event_id {
                if !seen_events.insert(id.clone()) {
                    continue;
                }
            }
            if !seen_rows.insert(fingerprint(&row.values)) {
                continue;
            }
            if let (Some(session), false, Some(at)) = (&row.session_id, row.anonymous, user_at) {
                sessions
                    .entry(session.clone())
                    .or_insert_with(|| row.values[at].clone());
            }
            out.push(row.into_record());
        }
        if let Some(at) = user_at {
            for record in out.iter_mut().filter(|r| r.anonymous) {
                let user = record.session_id.as_ref().and_then(|s| sessions.get(s));
                if let Some(user) = user {
                    record.values[at] = user.clone();
                    record.anonymous = false;
                }
            }
        }
        out
    }
}

/// A stored row before the view is applied.
struct Row {
    origin: Origin,
    seq: u64,
    values: Vec<Value>,
    session_id: Option<String>,
    event_id: Option<String>,
    anonymous: bool,
}

impl Row {
    fn into_record(self) -> EffectiveRecord {
        EffectiveRecord {
            origin: self.origin,
            seq: self.seq,
            values: self.values,
            session_id: self.session_id,
            anonymous: self.anonymous,
        }
    }
}

/// A 128-bit fingerprint of a row's values, for exact-duplicate detection without keeping the
/// rows twice (a collision among 10^9 rows has odds below 10^-20).
fn fingerprint(values: &[Value]) -> u128 {
    let mut a = DefaultHasher::new();
    let mut b = DefaultHasher::new();
    0xa5u8.hash(&mut b);
    for v in values {
        hash_value(v, &mut a);
        hash_value(v, &mut b);
    }
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

fn hash_value(v: &Value, h: &mut impl Hasher) {
    match v {
        Value::Null => 0u8.hash(h),
        Value::Boolean(x) => (1u8, x).hash(h),
        Value::Int(x) => (2u8, x).hash(h),
        Value::Long(x) => (3u8, x).hash(h),
        Value::Float(x) => (4u8, x.to_bits()).hash(h),
        Value::Double(x) => (5u8, x.to_bits()).hash(h),
        Value::String(x) => (6u8, x).hash(h),
        Value::Union(i, inner) => {
            (7u8, i).hash(h);
            hash_value(inner, h);
        }
        other => (8u8, format!("{other:?}")).hash(h),
    }
}
