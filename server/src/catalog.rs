//! A dataset group's item catalog in memory: the effective Items records (values as strings,
//! for `metadataColumns`) and, for items added by PutItems, metadata neighbours: the known items
//! sharing the most categorical tokens, so a Similar-Items campaign can answer for an item its
//! model has not seen (computed when the item arrives, never on the request path).

use std::collections::HashMap;
use std::sync::Arc;

use apache_avro::types::Value;
use attune::schema::Schema;
use attune::store::Origin;
use attune::Dataset;
use smallvec::SmallVec;

/// The most metadata neighbours kept per new item.
pub const MAX_NEIGHBOURS: usize = 100;

/// One column of the Items schema (ITEM_ID excluded).
#[derive(Debug, Clone)]
struct Column {
    name: String,
    categorical: bool,
}

/// The items of one dataset group.
#[derive(Debug)]
pub struct Catalog {
    schema: Arc<Schema>,
    id_at: usize,
    columns: Vec<Column>,
    /// Field index in the schema for each column.
    field_of: Vec<usize>,
    index: HashMap<Box<str>, u32>,
    ids: Vec<Box<str>>,
    /// `ids.len() * columns.len()` values, row-major; `None` for null.
    values: Vec<Option<Box<str>>>,
    tokens: HashMap<Box<str>, u32>,
    postings: Vec<Vec<u32>>,
    item_tokens: Vec<SmallVec<[u32; 4]>>,
    neighbours: HashMap<u32, Box<[u32]>>,
    /// The BULK segments the catalog was built from.
    pub signature: Vec<String>,
}

/// The text of a value for `metadata` in responses.
fn text(v: &Value) -> Option<String> {
    Some(match v {
        Value::Null => return None,
        Value::String(s) | Value::Enum(_, s) => s.clone(),
        Value::Boolean(b) => b.to_string(),
        Value::Int(x) => x.to_string(),
        Value::Long(x) => x.to_string(),
        Value::Float(x) => x.to_string(),
        Value::Double(x) => x.to_string(),
        Value::Union(_, inner) => return text(inner),
        other => format!("{other:?}"),
    })
}

impl Catalog {
    /// An empty catalog for an Items schema.
    pub fn empty(schema: Arc<Schema>) -> Catalog {
        let id_at = schema.index_of("ITEM_ID").unwrap_or(0);
        let mut columns = Vec::new();
        let mut field_of = Vec::new();
        for (i, f) in schema.fields().iter().enumerate() {
            if i != id_at {
                columns.push(Column {
                    name: f.name.clone(),
                    categorical: f.categorical,
                });
                field_of.push(i);
            }
        }
        Catalog {
            schema,
            id_at,
            columns,
            field_of,
            index: HashMap::new(),
            ids: Vec::new(),
            values: Vec::new(),
            tokens: HashMap::new(),
            postings: Vec::new(),
            item_tokens: Vec::new(),
            neighbours: HashMap::new(),
            signature: Vec::new(),
        }
    }

    /// Loads the effective Items records of a dataset. BLOCKING (reads the dataset).
    pub fn load(dataset: &Dataset) -> attune::Result<Catalog> {
        let mut c = Catalog::empty(Arc::clone(dataset.schema()));
        c.signature = dataset.segments()?.into_iter().map(|s| s.file).collect();
        let mut put = Vec::new();
        for r in dataset.effective()? {
            if let Some(i) = c.upsert_values(&r.values) {
                if r.origin == Origin::Put {
                    put.push(i);
                }
            }
        }
        for i in put {
            c.compute_neighbours(i);
        }
        Ok(c)
    }

    /// The Items schema.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// How many items.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The column index of a column name: exact, else ignoring case.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name == name)
            .or_else(|| {
                self.columns
                    .iter()
                    .position(|c| c.name.eq_ignore_ascii_case(name))
            })
    }

    /// The column names, for messages.
    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    /// An item's value in a column.
    pub fn value(&self, item: &str, column: usize) -> Option<&str> {
        let row = *self.index.get(item)? as usize;
        self.values[row * self.columns.len() + column].as_deref()
    }

    /// The metadata neighbours of an item added by PutItems, best first.
    pub fn neighbours(&self, item: &str) -> impl Iterator<Item = &str> + '_ {
        self.index
            .get(item)
            .and_then(|i| self.neighbours.get(i))
            .into_iter()
            .flat_map(|n| n.iter().map(|&j| &*self.ids[j as usize]))
    }

    /// Inserts or replaces an item from its values in schema order; returns its row.
    fn upsert_values(&mut self, values: &[Value]) -> Option<u32> {
        let id = match values.get(self.id_at)? {
            Value::String(s) => s.as_str(),
            _ => return None,
        };
        let ncols = self.columns.len();
        let row = match self.index.get(id) {
            Some(&r) => r,
            None => {
                let r = self.ids.len() as u32;
                self.ids.push(Box::from(id));
                self.index.insert(Box::from(id), r);
                self.values.resize(self.values.len() + ncols, None);
                self.item_tokens.push(SmallVec::new());
                r
            }
        };
        let base = row as usize * ncols;
        let mut tokens: SmallVec<[u32; 4]> = SmallVec::new();
        for (c, &f) in self.field_of.iter().enumerate() {
            let v = values.get(f).and_then(text);
            if self.columns[c].categorical {
                if let Some(v) = &v {
                    for tok in v.split('|').map(str::trim).filter(|t| !t.is_empty()) {
                        let key = format!("{c}:{}", tok.to_lowercase());
                        let next = self.postings.len() as u32;
                        let t = *self.tokens.entry(key.into_boxed_str()).or_insert(next);
                        if t == next {
                            self.postings.push(Vec::new());
                        }
                        if !tokens.contains(&t) {
                            tokens.push(t);
                        }
                    }
                }
            }
            self.values[base + c] = v.map(String::into_boxed_str);
        }
        let old = std::mem::replace(&mut self.item_tokens[row as usize], tokens.clone());
        for t in old.iter().filter(|t| !tokens.contains(t)) {
            self.postings[*t as usize].retain(|&r| r != row);
        }
        for t in tokens.iter().filter(|t| !old.contains(t)) {
            self.postings[*t as usize].push(row);
        }
        Some(row)
    }

    /// Upserts items added by PutItems (values in schema order) and computes their metadata
    /// neighbours.
    pub fn put(&mut self, records: &[Vec<Value>]) {
        let rows: Vec<u32> = records
            .iter()
            .filter_map(|v| self.upsert_values(v))
            .collect();
        for row in rows {
            self.compute_neighbours(row);
        }
    }

    /// The items sharing the most categorical tokens with `row` (cosine over token sets).
    fn compute_neighbours(&mut self, row: u32) {
        let mine = &self.item_tokens[row as usize];
        if mine.is_empty() {
            self.neighbours.remove(&row);
            return;
        }
        let mut overlap: HashMap<u32, u32> = HashMap::new();
        for &t in mine {
            for &r in &self.postings[t as usize] {
                if r != row {
                    *overlap.entry(r).or_default() += 1;
                }
            }
        }
        let n_mine = mine.len() as f32;
        let mut scored: Vec<(u32, f32)> = overlap
            .into_iter()
            .map(|(r, k)| {
                let n = self.item_tokens[r as usize].len() as f32;
                (r, k as f32 / (n_mine * n).sqrt())
            })
            .collect();
        let cmp = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if scored.len() > MAX_NEIGHBOURS {
            scored.select_nth_unstable_by(MAX_NEIGHBOURS - 1, cmp);
            scored.truncate(MAX_NEIGHBOURS);
        }
        scored.sort_unstable_by(cmp);
        self.neighbours
            .insert(row, scored.into_iter().map(|(r, _)| r).collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ITEMS: &str = r#"{
      "type": "record", "name": "Items",
      "namespace": "com.amazonaws.personalize.schema",
      "fields": [
        { "name": "ITEM_ID", "type": "string" },
        { "name": "GENRES", "type": ["null", "string"], "categorical": true },
        { "name": "TITLE", "type": ["null", "string"] },
        { "name": "PRICE", "type": ["null", "float"] }
      ],
      "version": "1.0"
    }"#;

    fn item(id: &str, genres: &str, title: &str) -> Vec<Value> {
        vec![
            Value::String(id.into()),
            Value::String(genres.into()),
            Value::String(title.into()),
            Value::Float(1.5),
        ]
    }

    #[test]
    fn metadata_and_neighbours() {
        let schema = Arc::new(Schema::parse(ITEMS, None).unwrap());
        let mut c = Catalog::empty(schema);
        c.put(&[
            item("a", "Action|Comedy", "A"),
            item("b", "Drama", "B"),
            item("c", "action", "C"),
        ]);
        assert_eq!(c.len(), 3);
        let title = c.column("title").unwrap();
        assert_eq!(c.value("b", title), Some("B"));
        assert_eq!(c.value("b", c.column("PRICE").unwrap()), Some("1.5"));
        assert_eq!(c.column("ITEM_ID"), None);
        assert_eq!(c.column("NOPE"), None);
        assert_eq!(c.neighbours("c").collect::<Vec<_>>(), ["a"]);
        c.put(&[item("n", "Action|Comedy", "N")]);
        assert_eq!(c.neighbours("n").collect::<Vec<_>>(), ["a", "c"]);
        // An update moves the item's tokens.
        c.put(&[item("a", "Drama", "A2")]);
        assert_eq!(c.value("a", title), Some("A2"));
        c.put(&[item("n", "Drama", "N")]);
        assert_eq!(c.neighbours("n").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(c.neighbours("zzz").count(), 0);
    }
}
