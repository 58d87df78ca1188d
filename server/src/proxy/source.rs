//! The `_source` rules: a search's `_source` filtering read as OpenSearch reads it, widened to
//! fetch the item id field, and each re-ranked hit's `_source` narrowed back to what the client
//! asked for.

use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::members::Members;
use super::paths::{decode, encode};

/// A search's `_source` filtering as OpenSearch reads it: whether `_source` is fetched, and
/// the include and exclude patterns (`*` a wildcard; a pattern naming an object covers its
/// fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SourceFilter {
    pub(super) fetch: bool,
    pub(super) includes: Vec<String>,
    pub(super) excludes: Vec<String>,
}

/// The query parameters that set a `_search`'s `_source` filtering (they replace the body's
/// `_source` as a whole).
pub(super) const SOURCE_PARAMS: [&str; 3] = ["_source", "_source_includes", "_source_excludes"];

impl SourceFilter {
    /// The filter of a body's `_source` member: `true`, `false`, a pattern, a list of patterns
    /// or `{"includes"/"include": .., "excludes"/"exclude": ..}` (each a pattern or a list).
    /// `None` for any other shape, which OpenSearch judges.
    pub(super) fn from_body(value: &RawValue) -> Option<SourceFilter> {
        fn pattern(v: &Value) -> Option<String> {
            match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
                _ => None,
            }
        }
        fn patterns(v: &Value) -> Option<Vec<String>> {
            match v {
                Value::Array(a) => a.iter().map(pattern).collect(),
                Value::String(s) => Some(vec![s.clone()]),
                _ => None,
            }
        }
        let mut filter = SourceFilter {
            fetch: true,
            includes: Vec::new(),
            excludes: Vec::new(),
        };
        match serde_json::from_str::<Value>(value.get()).ok()? {
            Value::Bool(fetch) => filter.fetch = fetch,
            v @ (Value::String(_) | Value::Array(_)) => filter.includes = patterns(&v)?,
            Value::Object(members) => {
                for (k, v) in &members {
                    match k.as_str() {
                        "includes" | "include" => filter.includes = patterns(v)?,
                        "excludes" | "exclude" => filter.excludes = patterns(v)?,
                        _ => return None,
                    }
                }
            }
            _ => return None,
        }
        Some(filter)
    }

    /// The filter set by a `_search`'s query parameters (the last of each counts), `None`
    /// without any: `_source` (`true`, `false`, or a comma list of patterns),
    /// `_source_includes` and `_source_excludes` (comma lists; they win over `_source`'s list).
    pub(super) fn from_query(query: &str) -> Option<SourceFilter> {
        let mut values: [Option<String>; 3] = Default::default();
        for piece in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
            if let Some(k) = SOURCE_PARAMS.iter().position(|p| *p == decode(key)) {
                values[k] = Some(decode(value));
            }
        }
        let [source, includes, excludes] = values;
        if source.is_none() && includes.is_none() && excludes.is_none() {
            return None;
        }
        let list = |s: &str| -> Vec<String> {
            if s.is_empty() {
                Vec::new()
            } else {
                s.split(',').map(str::to_owned).collect()
            }
        };
        let mut filter = SourceFilter {
            fetch: true,
            includes: Vec::new(),
            excludes: Vec::new(),
        };
        match source.as_deref() {
            None | Some("true") => {}
            Some("false") => filter.fetch = false,
            Some(s) => filter.includes = list(s),
        }
        if let Some(s) = includes {
            filter.includes = list(&s);
        }
        if let Some(s) = excludes {
            filter.excludes = list(&s);
        }
        Some(filter)
    }

    /// The filter fetching `field` as well, and what to remove from each hit afterwards so
    /// the client sees the `_source` it asked for; `None` when the client's filter already
    /// fetches the field. A field it excludes is dropped from the excludes when an exclude
    /// names exactly it; an exclude pattern covering more (a wildcard, a parent object) is an
    /// error, as is a field that must be added to includes but is a nested path (`a.b`) or
    /// holds `*` or `,` (with `_source: false` any field works: `_source` is removed from
    /// the hits as a whole). A filter naming the field in both its includes and its excludes
    /// is left as it is (`None`), for the cluster to judge: OpenSearch 3 refuses it (400),
    /// 2.19 applies the exclude, and hits without the field are not re-ranked.
    pub(super) fn widen(&self, field: &str) -> Result<Option<(SourceFilter, SourceFix)>, String> {
        if self.includes.iter().any(|p| p == field) && self.excludes.iter().any(|p| p == field) {
            return Ok(None);
        }
        if !self.fetch {
            let only = SourceFilter {
                fetch: true,
                includes: vec![field.to_owned()],
                excludes: Vec::new(),
            };
            return Ok(Some((only, SourceFix::DropSource)));
        }
        let included = self.includes.is_empty() || self.includes.iter().any(|p| covers(p, field));
        let mut excluding = self.excludes.iter().filter(|p| covers(p, field)).peekable();
        if included && excluding.peek().is_none() {
            return Ok(None);
        }
        if let Some(p) = excluding.find(|p| *p != field) {
            return Err(format!(
                "the exclude pattern {p:?} also covers the item id field {field:?}, which the \
                 proxy needs to re-rank: exclude the other fields by name"
            ));
        }
        if field.contains(['.', '*', ',']) {
            return Err(format!(
                "the item id field {field:?} is not fetched, and the proxy adds only a \
                 top-level field name to a _source filter: include {field:?} in _source"
            ));
        }
        let mut wide = self.clone();
        wide.excludes.retain(|p| p != field);
        if !included {
            wide.includes.push(field.to_owned());
        }
        Ok(Some((wide, SourceFix::DropField(field.to_owned()))))
    }

    /// The body member's value: `{"includes":[..],"excludes":[..]}` (a widened filter
    /// always fetches `_source`).
    pub(super) fn to_body(&self) -> Vec<u8> {
        let v = json!({"includes": self.includes, "excludes": self.excludes});
        // Serializing a Value cannot fail.
        serde_json::to_vec(&v).unwrap_or_default()
    }

    /// `query` with its `_source` parameters replaced by this filter's.
    pub(super) fn to_query(&self, query: &str) -> String {
        let mut pieces: Vec<String> = query
            .split('&')
            .filter(|p| {
                let key = p.split_once('=').map_or(*p, |(k, _)| k);
                !p.is_empty() && !SOURCE_PARAMS.contains(&decode(key).as_str())
            })
            .map(str::to_owned)
            .collect();
        let list = |l: &[String]| l.iter().map(|p| encode(p)).collect::<Vec<_>>().join(",");
        if !self.includes.is_empty() {
            pieces.push(format!("_source_includes={}", list(&self.includes)));
        }
        if !self.excludes.is_empty() {
            pieces.push(format!("_source_excludes={}", list(&self.excludes)));
        }
        if self.includes.is_empty() && self.excludes.is_empty() {
            // Without any, the body's `_source` would apply again.
            pieces.push("_source=true".to_owned());
        }
        pieces.join("&")
    }
}

/// Whether OpenSearch's source filtering matches `path` with `pattern`: the pattern matches the
/// path or an object holding it (`a` covers `a.b`), `*` matching any run of characters.
pub(super) fn covers(pattern: &str, path: &str) -> bool {
    glob(pattern.as_bytes(), path.as_bytes())
        || path
            .bytes()
            .enumerate()
            .any(|(k, c)| c == b'.' && glob(pattern.as_bytes(), &path.as_bytes()[..k]))
}

/// Whether `text` matches `pattern`, where `*` matches any run of bytes and every other byte
/// itself.
pub(super) fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // The last `*` seen and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// What to take out of each re-ranked hit so the client gets the `_source` it asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SourceFix {
    /// Nothing: the client's filter fetched the item id field itself.
    Keep,
    /// `_source` as a whole (the client asked for none).
    DropSource,
    /// The item id field, a top-level `_source` member the client did not ask for.
    DropField(String),
}

impl SourceFix {
    /// Writes a hit with its new `_score` and its `_source` fixed.
    pub(super) fn write_hit(&self, hit: &Members<'_>, score: &[u8], out: &mut Vec<u8>) {
        match self {
            SourceFix::Keep => hit.write(out, &[("_score", score)]),
            SourceFix::DropSource => hit.without("_source").write(out, &[("_score", score)]),
            SourceFix::DropField(field) => {
                let source = hit
                    .get("_source")
                    .and_then(|s| Members::parse(s.get().as_bytes()));
                match source {
                    Some(source) => {
                        let mut text = Vec::new();
                        source.without(field).write(&mut text, &[]);
                        hit.write(out, &[("_score", score), ("_source", &text)]);
                    }
                    None => hit.write(out, &[("_score", score)]),
                }
            }
        }
    }
}

/// Whether the search disables stored fields (`stored_fields` `_none_`: the query parameter,
/// else the body member), which leaves hits without `_id` and `_source` and makes OpenSearch
/// refuse any `_source` filter: such a search's `_source` is not widened.
pub(super) fn stored_fields_none(query: &str, body: &[u8]) -> bool {
    let in_query = query
        .split('&')
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k) == "stored_fields").then(|| decode(v))
        })
        .next_back();
    if let Some(v) = in_query {
        return v == "_none_";
    }
    let member = Members::parse(body).and_then(|top| top.get("stored_fields"));
    member.is_some_and(|v| match serde_json::from_str::<Value>(v.get()) {
        Ok(Value::String(s)) => s == "_none_",
        Ok(Value::Array(a)) => a.iter().any(|f| f == "_none_"),
        _ => false,
    })
}
