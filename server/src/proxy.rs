//! The search proxy: Attune in front of an OpenSearch cluster, re-ranking search hits with a
//! Personalized-Ranking campaign (`spec/opensearch.md` 5, option c). It works with a stock
//! cluster of any version: nothing is installed in OpenSearch.
//!
//! With `opensearch_url` configured (`--opensearch-url`), `GET` and `POST /{index}/_search`
//! (`index` a name, a comma list or a pattern) and `/_search`, and the multi-search
//! `/{index}/_msearch` and `/_msearch`, are forwarded to OpenSearch through the `opensearch`
//! crate's raw `send` on one client built at start (connections are reused):
//!
//! - The request keeps its method, path, body, and every query parameter but three:
//!   `personalize_campaign` (a campaign name or ARN), `personalize_weight` (`0.0..=1.0`) and
//!   `personalize_item_id_field` (a `_source` field, `_id` for the document id) override the
//!   server's defaults (`[proxy]` in the config file, `--proxy-*` flags) and are not forwarded;
//!   for `_msearch` they apply to every search.
//! - Headers forwarded: `Authorization` (OpenSearch's credentials, untouched), `Content-Type`
//!   and `X-Opaque-Id`. With an Attune API key configured, proxy routes take it only as
//!   `x-api-key` (the `Authorization` header belongs to OpenSearch).
//! - `ext.personalize_request_parameters` (`{"user_id": ..., "context": {...}}`, the Amazon
//!   plugin's extension) is removed from the body before forwarding (`ext` too when nothing else
//!   is left in it); the rest of the body is forwarded byte for byte.
//! - Scroll continuations, `GET`/`POST /_search/scroll[/{scroll_id}]` and `DELETE` (clearing a
//!   scroll), are forwarded as they are and never re-ranked, like a search with `scroll`.
//! - `_msearch` bodies are NDJSON, a header line (which may name the `index`) and a body line
//!   per search, split as OpenSearch splits them (`msearch_bodies`). Each body line is treated
//!   as a `_search` body (its `from` is the body member only: a multi-search has no per-search
//!   query string); header lines, untouched body lines and every newline are forwarded byte
//!   for byte (OpenSearch requires the body to end with a newline and judges the rest).
//!
//! The answer is OpenSearch's, status, body and content type, except that with the extension,
//! a weight above 0, no `scroll` parameter and a 200 JSON answer, `hits.hits` is re-ranked with
//! the blend of `POST /opensearch/rerank` (`crate::opensearch::blend_hits`: the first 500 hits
//! blended with the campaign's ranking for the user, including their real-time events, the rest
//! after them in order; items the model does not know after known ones), each hit's `_score`
//! becomes its combined score and `hits.max_score` the first of them. A page other than the
//! first is blended as that page, not as the top of the list: the search's `from` (the query
//! parameter, else the body's top-level `"from"`, else 0; `search_from`) shifts both ranks
//! ([`attune::blend::rerank_from`]), so page 2's scores lie below page 1's. Everything else (`took`,
//! `_shards`, `hits.total`, `aggregations`, `suggest`, `pit_id`, `_scroll_id`, the other members
//! of each hit) is passed through as OpenSearch wrote it. Item ids come from each returned hit
//! ([`ItemIdField::extract`]). In a `_msearch` answer (`{"took":..,"responses":[..]}`) each
//! item whose search carried the extension and that answered (no `error`, `status` 200) is
//! re-ranked the same way (`rerank_msearch`); the other items, error items and `took` pass
//! through byte for byte.
//!
//! Item id field and `_source` filtering: when the item id field is a `_source` field and a
//! search to re-rank restricts `_source` (the body's `"_source"`: `false`, a pattern, a list,
//! `{"includes", "excludes"}`; for `_search` also the `_source`, `_source_includes` and
//! `_source_excludes` query parameters, which replace the body's as in OpenSearch) so that it
//! would not return the field, the filter is widened before forwarding (`SourceFilter::widen`,
//! matching patterns as OpenSearch does: `*` wildcards, an object covering its fields):
//! `false` becomes `{"includes": [field]}` and `_source` is removed from the re-ranked hits;
//! otherwise an include list gains the field and an exclude naming exactly the field is
//! dropped, and the field is removed from each re-ranked hit's `_source`. So the client gets
//! the `_source` it asked for. Refused with 400 (naming the field): an exclude pattern covering the field and
//! more (`item*`, or a parent object), and a field that would have to be added to a filter but
//! is a nested path (`a.b`, also `*` or `,` in the name): the client can include the field in
//! its `_source` itself. With `_source: false` a nested field works (`_source` is removed as a
//! whole). Weight 0, a scroll, `_id` as the field, no extension, or `stored_fields` `_none_`
//! (hits without `_id` or `_source`; OpenSearch then refuses any `_source` filter): nothing is
//! rewritten.
//!
//! Errors: a bad extension, parameter or `_source` filter is 400 InvalidInputException naming
//! it (in a `_msearch`, prefixed by the search's position: `search 2: ...`), an unknown
//! campaign 404 ResourceNotFoundException, all before anything is sent to OpenSearch; an
//! unreachable cluster 502 (504 on a timeout). OpenSearch's own errors pass through. Both APIs
//! count under the `proxy` route in the metrics.

use std::fmt;
use std::ops::Range;
use std::sync::{Arc, RwLock};

use attune::blend::BlendedHit;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::request::Parts;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use opensearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use opensearch::http::Url;
use opensearch::OpenSearch;
use plugin_config::{ItemIdField, RequestParameters, REQUEST_EXT};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tracing::warn;

use crate::config::ProxyConfig;
use crate::http::{check_chars, key_matches, ApiError, Failure, Service};
use crate::opensearch::{blend_hits, campaign as campaign_by_arn, check_ranking_campaign};
use crate::state::{read, write, AppState, LiveCampaign};

/// The query parameter naming the campaign.
pub const CAMPAIGN_PARAM: &str = "personalize_campaign";
/// The query parameter giving the weight.
pub const WEIGHT_PARAM: &str = "personalize_weight";
/// The query parameter naming the item id field.
pub const ITEM_ID_FIELD_PARAM: &str = "personalize_item_id_field";

/// Request headers forwarded to OpenSearch.
const FORWARDED_HEADERS: [&str; 3] = ["authorization", "content-type", "x-opaque-id"];
/// Response headers passed back from OpenSearch (besides the content type).
const RETURNED_HEADERS: [&str; 2] = ["warning", "x-opaque-id"];

/// The search proxy's client and defaults, built once at start.
pub struct Proxy {
    /// Cloned per request (the clones share one connection pool); replaced only to drop a
    /// pool holding a connection OpenSearch no longer answers on ([`Proxy::reset`]).
    client: RwLock<OpenSearch>,
    url: Url,
    config: ProxyConfig,
    item_id_field: ItemIdField,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// The client for a validated configuration (connections open on first use).
    pub fn new(config: &ProxyConfig) -> Result<Proxy, String> {
        let url = Url::parse(&config.opensearch_url).map_err(|e| format!("opensearch_url: {e}"))?;
        Ok(Proxy {
            client: RwLock::new(build_client(&url)?),
            url,
            config: config.clone(),
            item_id_field: ItemIdField::parse(Some(&config.item_id_field)),
        })
    }

    fn client(&self) -> OpenSearch {
        read(&self.client).clone()
    }

    /// Replaces the client, dropping its pooled connections. OpenSearch (2.19) answers a
    /// request it cannot decode (a header or request line over `http.max_header_size` or
    /// `http.max_initial_line_length`) with a 400 but keeps the connection open and never
    /// answers on it again; reused, it would stall the next search until the timeout.
    /// BLOCKING (building a TLS client may read the system's certificates).
    fn reset(&self) {
        match build_client(&self.url) {
            Ok(c) => *write(&self.client) = c,
            Err(e) => warn!(cause = %e, "cannot rebuild the OpenSearch client"),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ProxyConfig {
        &self.config
    }
}

fn build_client(url: &Url) -> Result<OpenSearch, String> {
    let transport = TransportBuilder::new(SingleNodeConnectionPool::new(url.clone()))
        .build()
        .map_err(|e| format!("cannot build the OpenSearch client: {e}"))?;
    Ok(OpenSearch::new(transport))
}

/// Whether an OpenSearch error answer says it could not decode the request (see
/// [`Proxy::reset`]).
fn undecodable(status: StatusCode, body: &[u8]) -> bool {
    status == StatusCode::BAD_REQUEST && body.windows(9).any(|w| w == b"too_long_")
}

/// The search APIs the proxy serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    /// `_search`: one search, its body a JSON object.
    Search,
    /// `_msearch`: several searches, NDJSON (a header line and a body line each).
    MultiSearch,
    /// `_search/scroll` (the next page of a scroll, or clearing it): forwarded as it is, never
    /// re-ranked; the "index" slot holds a scroll id given in the path.
    Scroll,
}

impl Api {
    /// The path's last segment.
    fn endpoint(self) -> &'static str {
        match self {
            Api::Search => "_search",
            Api::MultiSearch => "_msearch",
            Api::Scroll => "_search/scroll",
        }
    }
}

/// Whether a path is proxied: `/_search`, `/{index}/_search`, `/_msearch`,
/// `/{index}/_msearch`, `/_search/scroll` or `/_search/scroll/{scroll_id}`.
pub fn is_search_path(path: &str) -> bool {
    search_target(path).is_some()
}

/// Whether a path is a scroll continuation (which also takes `DELETE`, to clear the scroll).
pub fn is_scroll_path(path: &str) -> bool {
    matches!(search_target(path), Some((Api::Scroll, _)))
}

/// The API and index part of a proxied path: `(api, None)` for `/_search` or `/_msearch`,
/// `(api, Some(index))` for `/{index}/_search` or `/{index}/_msearch`, `(Scroll, id)` for
/// `/_search/scroll[/{id}]`, `None` for any other path.
fn search_target(path: &str) -> Option<(Api, Option<&str>)> {
    let path = path.strip_prefix('/')?;
    if let Some(rest) = path.strip_prefix("_search/scroll") {
        return match rest {
            "" => Some((Api::Scroll, None)),
            _ => {
                let id = rest.strip_prefix('/')?;
                (!id.is_empty() && !id.contains('/')).then_some((Api::Scroll, Some(id)))
            }
        };
    }
    [Api::Search, Api::MultiSearch].into_iter().find_map(|api| {
        let rest = path.strip_suffix(api.endpoint())?;
        if rest.is_empty() {
            return Some((api, None));
        }
        let index = rest.strip_suffix('/')?;
        (!index.is_empty() && !index.contains('/')).then_some((api, Some(index)))
    })
}

/// Decodes a query-string component (`+` is a space, `%XX` a byte; bad escapes stay as they
/// are).
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(byte) = hex {
                    out.push(byte);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The proxy's own query parameters.
#[derive(Debug, Default, PartialEq, Eq)]
struct Overrides {
    campaign: Option<String>,
    weight: Option<String>,
    item_id_field: Option<String>,
}

/// Splits a raw query string into the proxy's parameters (decoded; the last one wins) and the
/// rest, forwarded as written. The flag says whether the rest has `scroll`.
fn split_query(query: &str) -> (Overrides, String, bool) {
    let mut own = Overrides::default();
    let mut rest: Vec<&str> = Vec::new();
    let mut scroll = false;
    for piece in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
        let slot = match decode(key).as_str() {
            CAMPAIGN_PARAM => &mut own.campaign,
            WEIGHT_PARAM => &mut own.weight,
            ITEM_ID_FIELD_PARAM => &mut own.item_id_field,
            k => {
                scroll |= k == "scroll";
                rest.push(piece);
                continue;
            }
        };
        *slot = Some(decode(value));
    }
    (own, rest.join("&"), scroll)
}

/// The path sent to OpenSearch, relative to the cluster URL. `./` keeps an index like
/// `remote:index` (cross-cluster search) from reading as a URL scheme.
fn forwarded_path(api: Api, index: Option<&str>, query: &str) -> String {
    let endpoint = api.endpoint();
    let mut path = match (api, index) {
        (Api::Scroll, Some(id)) => format!("./{endpoint}/{id}"),
        (_, Some(index)) => format!("./{index}/{endpoint}"),
        (_, None) => format!("./{endpoint}"),
    };
    if !query.is_empty() {
        path.push('?');
        path.push_str(query);
    }
    path
}

/// Checks an index (or scroll id) path segment: none that would leave the search path once
/// resolved.
fn check_index(index: &str, api: Api) -> Result<(), ApiError> {
    let decoded = decode(index);
    if decoded == "." || decoded == ".." || index.contains('\\') || decoded.contains('/') {
        return Err(ApiError::invalid(if api == Api::Scroll {
            format!("scroll id: {decoded:?} is not a scroll id")
        } else {
            format!("index: {decoded:?} is not an index name, list or pattern")
        }));
    }
    Ok(())
}

/// A JSON object's members in document order, each value as its exact text.
#[derive(Debug)]
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Members<'de>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                    members.push(entry);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'a> Members<'a> {
    fn parse(text: &'a [u8]) -> Option<Members<'a>> {
        serde_json::from_slice(text).ok()
    }

    /// The value of the last member named `key` (the one a JSON parser keeps).
    fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// The members but those named `key`.
    fn without(&self, key: &str) -> Members<'a> {
        Members(self.0.iter().filter(|(k, _)| k != key).cloned().collect())
    }

    /// Writes the object with the members named in `set` given new text (added at the end when
    /// absent).
    fn write(&self, out: &mut Vec<u8>, set: &[(&str, &[u8])]) {
        out.push(b'{');
        let mut first = true;
        let mut member = |out: &mut Vec<u8>, key: &str, value: &[u8]| {
            if !first {
                out.push(b',');
            }
            first = false;
            // Writing into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, key);
            out.push(b':');
            out.extend_from_slice(value);
        };
        for (k, v) in &self.0 {
            match set.iter().find(|(s, _)| s == k) {
                Some((_, new)) => member(out, k, new),
                None => member(out, k, v.get().as_bytes()),
            }
        }
        for (k, new) in set {
            if self.get(k).is_none() {
                member(out, k, new);
            }
        }
        out.push(b'}');
    }
}

/// A search body without `ext.personalize_request_parameters`, and that member's value. `None`
/// when the body has none or is not a JSON object with an object `ext` (it is then forwarded as
/// it is, and OpenSearch judges it).
fn strip_ext(body: &[u8]) -> Option<(Vec<u8>, &RawValue)> {
    let top = Members::parse(body)?;
    let ext = Members::parse(top.get("ext")?.get().as_bytes())?;
    let params = ext.get(REQUEST_EXT)?;
    let rest = Members(
        ext.0
            .into_iter()
            .filter(|(k, _)| k != REQUEST_EXT)
            .collect(),
    );
    let mut out = Vec::with_capacity(body.len());
    if rest.0.is_empty() {
        Members(top.0.into_iter().filter(|(k, _)| k != "ext").collect()).write(&mut out, &[]);
    } else {
        let mut ext_text = Vec::new();
        rest.write(&mut ext_text, &[]);
        top.write(&mut out, &[("ext", &ext_text)]);
    }
    Some((out, params))
}

/// The search's `from`, the offset of the page of hits it asks for: the query parameter `from`
/// (the last one) wins, else the body's top-level `"from"` (a number or a string holding one),
/// else 0. A value that is not a non-negative integer counts as 0: OpenSearch rejects such a
/// search, and only a 200 answer is re-ranked.
fn search_from(query: &str, body: &[u8]) -> usize {
    let parse = |s: &str| s.trim().parse::<usize>().unwrap_or(0);
    let in_query = query
        .split('&')
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k) == "from").then(|| decode(v))
        })
        .next_back();
    if let Some(v) = in_query {
        return parse(&v);
    }
    let Some(v) = Members::parse(body).and_then(|top| top.get("from")) else {
        return 0;
    };
    match serde_json::from_str::<Value>(v.get()) {
        Ok(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0),
        Ok(Value::String(s)) => parse(&s),
        _ => 0,
    }
}

/// A search's `_source` filtering as OpenSearch reads it: whether `_source` is fetched, and
/// the include and exclude patterns (`*` a wildcard; a pattern naming an object covers its
/// fields).
#[derive(Debug, Clone, PartialEq, Eq)]
struct SourceFilter {
    fetch: bool,
    includes: Vec<String>,
    excludes: Vec<String>,
}

/// The query parameters that set a `_search`'s `_source` filtering (they replace the body's
/// `_source` as a whole).
const SOURCE_PARAMS: [&str; 3] = ["_source", "_source_includes", "_source_excludes"];

impl SourceFilter {
    /// The filter of a body's `_source` member: `true`, `false`, a pattern, a list of patterns
    /// or `{"includes"/"include": .., "excludes"/"exclude": ..}` (each a pattern or a list).
    /// `None` for any other shape, which OpenSearch judges.
    fn from_body(value: &RawValue) -> Option<SourceFilter> {
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
    fn from_query(query: &str) -> Option<SourceFilter> {
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
    /// the hits as a whole).
    fn widen(&self, field: &str) -> Result<Option<(SourceFilter, SourceFix)>, String> {
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
    fn to_body(&self) -> Vec<u8> {
        let v = json!({"includes": self.includes, "excludes": self.excludes});
        // Serializing a Value cannot fail.
        serde_json::to_vec(&v).unwrap_or_default()
    }

    /// `query` with its `_source` parameters replaced by this filter's.
    fn to_query(&self, query: &str) -> String {
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
fn covers(pattern: &str, path: &str) -> bool {
    glob(pattern.as_bytes(), path.as_bytes())
        || path
            .bytes()
            .enumerate()
            .any(|(k, c)| c == b'.' && glob(pattern.as_bytes(), &path.as_bytes()[..k]))
}

/// Whether `text` matches `pattern`, where `*` matches any run of bytes and every other byte
/// itself.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
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

/// Percent-encodes a query-string component (unreserved characters and `*` stay).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~*".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What to take out of each re-ranked hit so the client gets the `_source` it asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SourceFix {
    /// Nothing: the client's filter fetched the item id field itself.
    Keep,
    /// `_source` as a whole (the client asked for none).
    DropSource,
    /// The item id field, a top-level `_source` member the client did not ask for.
    DropField(String),
}

impl SourceFix {
    /// Writes a hit with its new `_score` and its `_source` fixed.
    fn write_hit(&self, hit: &Members<'_>, score: &[u8], out: &mut Vec<u8>) {
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

/// The byte ranges of the body lines of a multi-search request, split as OpenSearch splits
/// it: each search is a header line then a body line, each ended by `\n`; one `\n` at the very
/// start is skipped; a last line without its `\n` is no search (OpenSearch rejects the request
/// as a whole).
fn msearch_bodies(data: &[u8]) -> Vec<Range<usize>> {
    let next = |from: usize| {
        data.get(from..)?
            .iter()
            .position(|&b| b == b'\n')
            .map(|k| from + k)
    };
    let mut bodies = Vec::new();
    let mut from = 0;
    while let Some(header_end) = next(from) {
        if header_end == 0 {
            from = 1;
            continue;
        }
        let Some(body_end) = next(header_end + 1) else {
            break;
        };
        bodies.push(header_end + 1..body_end);
        from = body_end + 1;
    }
    bodies
}

/// `data` with some of its ranges (in order, not overlapping) replaced.
fn splice(data: &[u8], replacements: Vec<(Range<usize>, Vec<u8>)>) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    let mut at = 0;
    for (range, text) in replacements {
        out.extend_from_slice(&data[at..range.start]);
        out.extend_from_slice(&text);
        at = range.end;
    }
    out.extend_from_slice(&data[at..]);
    out
}

/// Whether a multi-search response item is a search's answer (no `error` member, `status`
/// 200 or absent), not its failure.
fn answered(item: &[u8]) -> bool {
    Members::parse(item).is_some_and(|m| {
        m.get("error").is_none() && m.get("status").is_none_or(|s| s.get().trim() == "200")
    })
}

/// Re-ranks the answers of a multi-search response: `rerank` gets each answered item's
/// position and text and returns its new text (`None`: kept as it is). Error items pass
/// through; so does everything else in the response, byte for byte. Returns `None` when
/// nothing changed, or the response does not have one item per search.
fn rerank_msearch(
    body: &[u8],
    searches: usize,
    mut rerank: impl FnMut(usize, &[u8]) -> Option<Vec<u8>>,
) -> Option<Vec<u8>> {
    let top = Members::parse(body)?;
    let items: Vec<&RawValue> = serde_json::from_str(top.get("responses")?.get()).ok()?;
    if items.len() != searches {
        warn!(
            searches,
            answers = items.len(),
            "OpenSearch's multi-search answer does not have one item per search; passed \
             through as it is"
        );
        return None;
    }
    let mut changed = false;
    let mut list = Vec::with_capacity(body.len() + 64);
    list.push(b'[');
    for (k, item) in items.iter().enumerate() {
        if k > 0 {
            list.push(b',');
        }
        let text = item.get().as_bytes();
        match answered(text).then(|| rerank(k, text)).flatten() {
            Some(new) => {
                changed = true;
                list.extend_from_slice(&new);
            }
            None => list.extend_from_slice(text),
        }
    }
    list.push(b']');
    if !changed {
        return None;
    }
    let mut out = Vec::with_capacity(list.len() + 64);
    top.write(&mut out, &[("responses", &list)]);
    Some(out)
}

/// Re-ranks the hits of a search response: `blend` gets the hits' item ids (those of the first
/// 500; `None` after them and for hits without one) and returns the new order; `fix` restores
/// each hit's `_source` as the client asked for it. Returns `None`, leaving the response as it
/// is, when it has no `hits.hits` array or no hit.
fn rerank_response(
    body: &[u8],
    field: &ItemIdField,
    fix: &SourceFix,
    blend: impl FnOnce(&[Option<&str>]) -> Vec<BlendedHit>,
) -> Option<Vec<u8>> {
    let top = Members::parse(body)?;
    let hits_obj = Members::parse(top.get("hits")?.get().as_bytes())?;
    let hits: Vec<&RawValue> = serde_json::from_str(hits_obj.get("hits")?.get()).ok()?;
    if hits.is_empty() {
        return None;
    }
    let parsed: Vec<Option<Value>> = hits
        .iter()
        .take(attune::blend::MAX_RERANKED_HITS)
        .map(|h| serde_json::from_str(h.get()).ok())
        .collect();
    let ids: Vec<Option<std::borrow::Cow<'_, str>>> = (0..hits.len())
        .map(|k| parsed.get(k)?.as_ref().and_then(|h| field.extract(h)))
        .collect();
    let ids: Vec<Option<&str>> = ids.iter().map(|i| i.as_deref()).collect();
    let blended = blend(&ids);
    if blended.len() != hits.len() {
        return None;
    }
    let mut list = Vec::with_capacity(body.len());
    list.push(b'[');
    let mut score = Vec::with_capacity(24);
    for (k, b) in blended.iter().enumerate() {
        if k > 0 {
            list.push(b',');
        }
        score.clear();
        let _ = serde_json::to_writer(&mut score, &b.score);
        match Members::parse(hits[b.hit].get().as_bytes()) {
            Some(hit) => fix.write_hit(&hit, &score, &mut list),
            // Not an object: kept as it is.
            None => list.extend_from_slice(hits[b.hit].get().as_bytes()),
        }
    }
    list.push(b']');
    score.clear();
    let _ = serde_json::to_writer(&mut score, &blended[0].score);
    let mut hits_text = Vec::with_capacity(list.len() + 256);
    hits_obj.write(&mut hits_text, &[("max_score", &score), ("hits", &list)]);
    let mut out = Vec::with_capacity(body.len() + 64);
    top.write(&mut out, &[("hits", &hits_text)]);
    Some(out)
}

/// Whether the request carries Attune's API key as `x-api-key` (compared in constant time).
fn has_api_key(parts: &Parts, key: &str) -> bool {
    parts
        .headers
        .get("x-api-key")
        .is_some_and(|v| key_matches(v.as_bytes(), key))
}

/// The headers sent to OpenSearch: those of [`FORWARDED_HEADERS`] the client sent (one value
/// each).
fn forwarded_headers(headers: &http::HeaderMap) -> http::HeaderMap {
    let mut out = http::HeaderMap::with_capacity(FORWARDED_HEADERS.len());
    for name in FORWARDED_HEADERS {
        if let Some(v) = headers.get(name) {
            out.insert(HeaderName::from_static(name), v.clone());
        }
    }
    out
}

/// The request's settings: the query parameters over the server's defaults.
struct Settings<'a> {
    campaign: Option<&'a str>,
    weight: f64,
    field: ItemIdField,
}

/// Validates the proxy's query parameters.
fn settings<'a>(proxy: &'a Proxy, own: &'a Overrides) -> Result<Settings<'a>, ApiError> {
    let weight = match &own.weight {
        None => proxy.config.weight,
        Some(w) => plugin_config::weight_from_value(Some(&Value::String(w.clone())))
            .map_err(|e| ApiError::invalid(format!("{WEIGHT_PARAM}: {e}")))?,
    };
    let field = match &own.item_id_field {
        None => proxy.item_id_field.clone(),
        Some(f) if f.trim().is_empty() => {
            return Err(ApiError::invalid(format!(
                "{ITEM_ID_FIELD_PARAM}: must not be blank (use _id for the document id)"
            )))
        }
        Some(f) => ItemIdField::parse(Some(f)),
    };
    if let Some(c) = &own.campaign {
        check_chars(CAMPAIGN_PARAM, c, 1, 256)?;
    }
    Ok(Settings {
        campaign: own.campaign.as_deref().or(proxy.config.campaign.as_deref()),
        weight,
        field,
    })
}

/// What to re-rank with, decided before forwarding.
struct Plan {
    campaign: Arc<LiveCampaign>,
    user: String,
    weight: f64,
    field: ItemIdField,
}

/// Validates the extension and finds the campaign; `None` when nothing is to be re-ranked
/// (weight 0 or a scroll search: the extension is then not read, only removed).
fn plan(
    state: &AppState,
    settings: &Settings<'_>,
    params: &RawValue,
    scroll: bool,
) -> Result<Option<Plan>, ApiError> {
    if settings.weight == 0.0 || scroll {
        return Ok(None);
    }
    let params: Value = serde_json::from_str(params.get())
        .map_err(|e| ApiError::invalid(format!("ext.{REQUEST_EXT}: {e}")))?;
    let params = RequestParameters::from_search_body(&json!({ "ext": { REQUEST_EXT: params } }))
        .map_err(|e| ApiError::invalid(format!("ext.{REQUEST_EXT}: {e}")))?
        .unwrap_or_default();
    check_chars(
        &format!("ext.{REQUEST_EXT}.user_id"),
        &params.user_id,
        1,
        256,
    )?;
    let context: std::collections::HashMap<_, _> = params
        .context
        .iter()
        .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
        .collect();
    crate::runtime::check_context(Some(&context))
        .map_err(|e| ApiError::invalid(format!("ext.{REQUEST_EXT}: {}", e.message)))?;
    let campaign = match settings.campaign {
        None => {
            return Err(ApiError::invalid(format!(
                "{CAMPAIGN_PARAM}: required: name the campaign in the query \
                 (?{CAMPAIGN_PARAM}=<name or ARN>) or start the server with --proxy-campaign"
            )))
        }
        Some(arn) if arn.starts_with("arn:") => campaign_by_arn(state, Some(arn))?,
        Some(name) => state.campaign(name).ok_or_else(|| {
            ApiError::not_found(Service::Attune, format!("campaign not found: {name}"))
        })?,
    };
    check_ranking_campaign(&campaign)?;
    Ok(Some(Plan {
        campaign,
        user: params.user_id,
        weight: settings.weight,
        field: settings.field.clone(),
    }))
}

/// Whether the search disables stored fields (`stored_fields` `_none_`: the query parameter,
/// else the body member), which leaves hits without `_id` and `_source` and makes OpenSearch
/// refuse any `_source` filter: such a search's `_source` is not widened.
fn stored_fields_none(query: &str, body: &[u8]) -> bool {
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

/// How to re-rank one search's answer, decided before forwarding.
struct Rerank {
    plan: Plan,
    /// The search's `from`.
    from: usize,
    fix: SourceFix,
}

impl Rerank {
    /// The answer re-ranked, `None` when it has no hits to re-rank (logged when it has some).
    fn apply(&self, answer: &[u8]) -> Option<Vec<u8>> {
        let p = &self.plan;
        let reranked = rerank_response(answer, &p.field, &self.fix, |ids| {
            blend_hits(&p.campaign, &p.user, ids, p.weight, self.from)
        });
        if reranked.is_none() {
            warn_unless_empty(answer);
        }
        reranked
    }
}

/// Prepares one search body for forwarding: the extension removed and read, and, when its
/// hits are to be re-ranked and the item id field is a `_source` field, the `_source`
/// filtering widened to fetch it (the query's `_source` parameters when `query` is given and
/// has some, else the body's `_source`). Returns the body to forward (`None`: the body as it
/// came) and how to re-rank the answer.
fn prepare(
    state: &AppState,
    settings: &Settings<'_>,
    scroll: bool,
    body: &[u8],
    query: Option<&mut String>,
) -> Result<(Option<Vec<u8>>, Option<Rerank>), ApiError> {
    let Some((mut forwarded, params)) = strip_ext(body) else {
        return Ok((None, None));
    };
    let Some(plan) = plan(state, settings, params, scroll)? else {
        return Ok((Some(forwarded), None));
    };
    let from = search_from(query.as_deref().map_or("", String::as_str), &forwarded);
    let mut fix = SourceFix::Keep;
    let stored_none = stored_fields_none(query.as_deref().map_or("", String::as_str), &forwarded);
    if let (ItemIdField::Source(field), false) = (&plan.field, stored_none) {
        let widen = |filter: SourceFilter| {
            filter
                .widen(field)
                .map_err(|e| ApiError::invalid(format!("_source: {e}")))
        };
        match query.and_then(|q| SourceFilter::from_query(q).map(|f| (q, f))) {
            Some((query, filter)) => {
                if let Some((wide, f)) = widen(filter)? {
                    *query = wide.to_query(query);
                    fix = f;
                }
            }
            None => {
                let top = Members::parse(&forwarded);
                let filter = top
                    .as_ref()
                    .and_then(|t| t.get("_source"))
                    .and_then(SourceFilter::from_body);
                if let (Some(top), Some(filter)) = (top, filter) {
                    if let Some((wide, f)) = widen(filter)? {
                        let mut out = Vec::with_capacity(forwarded.len() + 64);
                        top.write(&mut out, &[("_source", &wide.to_body())]);
                        forwarded = out;
                        fix = f;
                    }
                }
            }
        }
    }
    Ok((Some(forwarded), Some(Rerank { plan, from, fix })))
}

/// A request body ready to forward.
struct Prepared {
    /// The body to forward; `None`: the body as it came.
    body: Option<Vec<u8>>,
    /// Per search, how to re-rank its answer.
    reranks: Vec<Option<Rerank>>,
}

/// Prepares a multi-search body: each search's body line as [`prepare`] prepares a
/// `_search` body (its `from` the body member only), every other byte as it came. Errors name
/// the search (`search 2: ...`, counted from 1).
fn prepare_msearch(
    state: &AppState,
    settings: &Settings<'_>,
    scroll: bool,
    body: &[u8],
) -> Result<Prepared, ApiError> {
    let lines = msearch_bodies(body);
    let mut reranks = Vec::with_capacity(lines.len());
    let mut replacements = Vec::new();
    for (k, line) in lines.into_iter().enumerate() {
        let (new, rerank) =
            prepare(state, settings, scroll, &body[line.clone()], None).map_err(|e| ApiError {
                message: format!("search {}: {}", k + 1, e.message),
                ..e
            })?;
        if let Some(new) = new {
            replacements.push((line, new));
        }
        reranks.push(rerank);
    }
    Ok(Prepared {
        body: (!replacements.is_empty()).then(|| splice(body, replacements)),
        reranks,
    })
}

fn gateway_error(status: StatusCode, kind: &'static str, cause: String) -> Failure {
    Failure {
        api: ApiError {
            status,
            kind,
            message: "OpenSearch did not answer; see the server's log".into(),
        },
        cause: Some(cause),
    }
}

/// Serves a proxied search: `parts` and `body` are the client's request (the body read within
/// the size limit).
pub async fn search(
    state: &Arc<AppState>,
    parts: &Parts,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, Failure> {
    let not_found = || {
        ApiError::not_found(
            Service::Attune,
            "the search proxy is off: start the server with --opensearch-url",
        )
    };
    let proxy = state.proxy().ok_or_else(not_found)?;
    if let Some(key) = &state.config().api_key {
        if !has_api_key(parts, key) {
            return Err(ApiError {
                status: StatusCode::FORBIDDEN,
                kind: "AccessDeniedException",
                message: "missing or wrong API key: the search proxy takes it as x-api-key: \
                          <key> (the Authorization header goes to OpenSearch)"
                    .into(),
            }
            .into());
        }
    }
    let (api, index) = search_target(parts.uri.path()).ok_or_else(not_found)?;
    if let Some(index) = index {
        check_index(index, api)?;
    }
    let (own, mut query, scroll) = split_query(parts.uri.query().unwrap_or(""));
    let settings = settings(proxy, &own)?;
    let prepared = match api {
        Api::Search => {
            let (new, rerank) = prepare(state, &settings, scroll, &body, Some(&mut query))?;
            Prepared {
                body: new,
                reranks: vec![rerank],
            }
        }
        Api::MultiSearch => prepare_msearch(state, &settings, scroll, &body)?,
        // A scroll's later pages keep the order OpenSearch gives (spec/opensearch.md 5).
        Api::Scroll => Prepared {
            body: None,
            reranks: Vec::new(),
        },
    };
    let reranks = prepared.reranks;
    let forwarded = prepared.body.map_or(body, Bytes::from);
    let method = match parts.method {
        Method::GET => opensearch::http::Method::Get,
        Method::DELETE => opensearch::http::Method::Delete,
        _ => opensearch::http::Method::Post,
    };
    let timeout = state.config().request_timeout;
    let sent = proxy
        .client()
        .send::<Bytes, ()>(
            method,
            &forwarded_path(api, index, &query),
            forwarded_headers(&parts.headers),
            None,
            (!forwarded.is_empty()).then_some(forwarded),
            Some(timeout),
        )
        .await;
    let url = &proxy.config.opensearch_url;
    let answer = sent.map_err(|e| {
        if e.is_timeout() {
            gateway_error(
                StatusCode::GATEWAY_TIMEOUT,
                "GatewayTimeoutException",
                format!("OpenSearch at {url} did not answer within {timeout:?}: {e}"),
            )
        } else {
            gateway_error(
                StatusCode::BAD_GATEWAY,
                "BadGatewayException",
                format!("cannot reach OpenSearch at {url}: {e}"),
            )
        }
    })?;
    let status = answer.status_code();
    let mut headers = http::HeaderMap::new();
    for name in std::iter::once("content-type").chain(RETURNED_HEADERS) {
        for v in answer.headers().get_all(name) {
            headers.append(HeaderName::from_static(name), v.clone());
        }
    }
    let bytes = answer.bytes().await.map_err(|e| {
        gateway_error(
            StatusCode::BAD_GATEWAY,
            "BadGatewayException",
            format!("reading OpenSearch's answer from {url} failed: {e}"),
        )
    })?;
    if undecodable(status, &bytes) {
        let s = Arc::clone(state);
        let reset = tokio::task::spawn_blocking(move || {
            if let Some(p) = s.proxy() {
                p.reset();
            }
        });
        if let Err(e) = reset.await {
            warn!(cause = %e, "the OpenSearch client reset failed");
        }
    }
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let rerank = |bytes: &Bytes| match api {
        Api::Search | Api::Scroll => reranks.first()?.as_ref()?.apply(bytes),
        Api::MultiSearch => rerank_msearch(bytes, reranks.len(), |k, item| {
            reranks.get(k)?.as_ref()?.apply(item)
        }),
    };
    let reranked = (status == StatusCode::OK && json && reranks.iter().any(Option::is_some))
        .then(|| rerank(&bytes))
        .flatten();
    let body = reranked.map_or(bytes, Bytes::from);
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    if !headers.contains_key(CONTENT_TYPE) {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    *r.headers_mut() = headers;
    Ok(r)
}

/// Logs a 200 answer whose hits could not be re-ranked, unless it simply has none.
fn warn_unless_empty(body: &[u8]) {
    let has_hits = Members::parse(body)
        .and_then(|top| Members::parse(top.get("hits")?.get().as_bytes()))
        .and_then(|h| serde_json::from_str::<Vec<&RawValue>>(h.get("hits")?.get()).ok())
        .is_some_and(|h| !h.is_empty());
    if has_hits {
        warn!("OpenSearch's answer could not be re-ranked; passed through as it is");
    }
}

#[cfg(test)]
mod tests {
    use http::header::AUTHORIZATION;

    use super::*;

    #[test]
    fn search_paths() {
        use Api::{MultiSearch, Search};
        assert_eq!(search_target("/_search"), Some((Search, None)));
        assert_eq!(
            search_target("/catalog/_search"),
            Some((Search, Some("catalog")))
        );
        assert_eq!(search_target("/a,b*/_search"), Some((Search, Some("a,b*"))));
        assert_eq!(
            search_target("/remote:catalog/_search"),
            Some((Search, Some("remote:catalog")))
        );
        assert_eq!(search_target("/_msearch"), Some((MultiSearch, None)));
        assert_eq!(search_target("/_search/scroll"), Some((Api::Scroll, None)));
        assert_eq!(
            search_target("/_search/scroll/DXF1ZXJ5QW5kRmV0Y2g="),
            Some((Api::Scroll, Some("DXF1ZXJ5QW5kRmV0Y2g=")))
        );
        assert!(is_scroll_path("/_search/scroll") && !is_scroll_path("/_search"));
        assert_eq!(
            search_target("/c-*/_msearch"),
            Some((MultiSearch, Some("c-*")))
        );
        for other in [
            "/",
            "/catalog",
            "/catalog/_searchx",
            "/catalog/x_search",
            "/a/b/_search",
            "//_search",
            "/_search/scroll/a/b",
            "/_search/scrollx",
            "/catalog/_search/scroll",
            "/catalog/_search/template",
            "/opensearch/rerank",
            "/catalog/x_msearch",
            "/catalog/_msearch/template",
            "/a/b/_msearch",
            "/_msearchx",
        ] {
            assert_eq!(search_target(other), None, "{other}");
        }
        assert!(is_search_path("/c/_search") && !is_search_path("/c/_count"));
        assert!(is_search_path("/c/_msearch") && is_search_path("/_msearch"));
        assert!(check_index("catalog-*", Api::Search).is_ok());
        for bad in ["..", ".", "%2e%2E", "a%2Fb", "a\\b"] {
            assert!(check_index(bad, Api::Search).is_err(), "{bad}");
        }
    }

    #[test]
    fn undecodable_requests_are_recognized() {
        let body =
            br#"{"error":{"root_cause":[{"type":"too_long_http_header_exception"}]},"status":400}"#;
        assert!(undecodable(StatusCode::BAD_REQUEST, body));
        assert!(!undecodable(StatusCode::OK, body));
        assert!(!undecodable(
            StatusCode::BAD_REQUEST,
            br#"{"error":{"type":"parsing_exception"},"status":400}"#
        ));
    }

    #[test]
    fn forwarded_paths_stay_on_the_cluster() {
        let base = Url::parse("http://127.0.0.1:9200/prefix/").unwrap();
        // What the transport does: the path without leading slashes, joined to the base.
        let join = |p: &str| base.join(p.trim_start_matches('/')).unwrap().to_string();
        assert_eq!(
            join(&forwarded_path(
                Api::Search,
                Some("catalog"),
                "size=5&q=a%20b"
            )),
            "http://127.0.0.1:9200/prefix/catalog/_search?size=5&q=a%20b"
        );
        assert_eq!(
            join(&forwarded_path(Api::Search, None, "")),
            "http://127.0.0.1:9200/prefix/_search"
        );
        assert_eq!(
            join(&forwarded_path(Api::MultiSearch, Some("c"), "typed_keys")),
            "http://127.0.0.1:9200/prefix/c/_msearch?typed_keys"
        );
        for index in ["https:evil.example", "remote:catalog", "http:x"] {
            let url = join(&forwarded_path(Api::MultiSearch, Some(index), ""));
            assert!(
                url.starts_with("http://127.0.0.1:9200/prefix/"),
                "{index}: {url}"
            );
        }
    }

    #[test]
    fn query_parameters_split() {
        let (own, rest, scroll) = split_query(
            "size=600&personalize_campaign=arn%3Aaws%3Apersonalize%3Alocal%3A0%3Acampaign%2Frank\
             &q=title:a+b&personalize_weight=0.5&search_pipeline=p&personalize_item_id_field=_id\
             &personalize_weight=0.7&&flag",
        );
        assert_eq!(
            own,
            Overrides {
                campaign: Some("arn:aws:personalize:local:0:campaign/rank".into()),
                weight: Some("0.7".into()),
                item_id_field: Some("_id".into()),
            }
        );
        assert_eq!(rest, "size=600&q=title:a+b&search_pipeline=p&flag");
        assert!(!scroll);
        let (own, rest, scroll) = split_query("scroll=1m&personalize%5Fweight=0");
        assert_eq!(own.weight.as_deref(), Some("0"));
        assert_eq!(rest, "scroll=1m");
        assert!(scroll);
        assert_eq!(
            split_query(""),
            (Overrides::default(), String::new(), false)
        );
        assert_eq!(decode("a%zz%4"), "a%zz%4");
        assert_eq!(decode("%C3%A9+x"), "é x");
    }

    #[test]
    fn the_search_from_is_the_query_parameter_else_the_body_member() {
        assert_eq!(search_from("", b""), 0);
        assert_eq!(search_from("size=10", br#"{"size": 10}"#), 0);
        assert_eq!(search_from("", br#"{"from": 100, "size": 100}"#), 100);
        assert_eq!(search_from("", br#"{"from": "30"}"#), 30);
        assert_eq!(search_from("", br#"{"query": {"from": 5}}"#), 0);
        // The query parameter wins over the body; the last one counts.
        assert_eq!(search_from("from=20&size=5", br#"{"from": 100}"#), 20);
        assert_eq!(search_from("from=20&%66rom=40", b""), 40);
        assert_eq!(search_from("from=0", br#"{"from": 100}"#), 0);
        // Not a non-negative integer: 0 (OpenSearch rejects the search anyway).
        assert_eq!(search_from("from=-3", b""), 0);
        assert_eq!(search_from("", br#"{"from": -3}"#), 0);
        assert_eq!(search_from("", br#"{"from": 1.5}"#), 0);
        assert_eq!(search_from("", b"not json"), 0);
    }

    #[test]
    fn the_extension_is_removed_and_the_rest_kept_byte_for_byte() {
        let body = br#"{"query": {"match": {"title": "a"}}, "size": 3,
            "ext": {"personalize_request_parameters": {"user_id": "u1", "context": {"D": "m"}}},
            "aggs": {"z": {"terms": {"field": "g"}}, "a": {"max": {"field": "p"}}}}"#;
        let (out, params) = strip_ext(body).unwrap();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"query":{"match": {"title": "a"}},"size":3,"aggs":{"z": {"terms": {"field": "g"}}, "a": {"max": {"field": "p"}}}}"#
        );
        assert_eq!(params.get(), r#"{"user_id": "u1", "context": {"D": "m"}}"#);
        // Other ext members stay.
        let body =
            br#"{"ext": {"other": {"x": 1}, "personalize_request_parameters": {"user_id": "u"}}}"#;
        let (out, _) = strip_ext(body).unwrap();
        assert_eq!(out, br#"{"ext":{"other":{"x": 1}}}"#);
        // No extension, or not a JSON object: forwarded as it is.
        for body in [
            &br#"{"query": {"match_all": {}}}"#[..],
            br#"{"ext": {"other": 1}}"#,
            br#"{"ext": 5}"#,
            b"",
            b"{",
            b"[1]",
        ] {
            assert!(
                strip_ext(body).is_none(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    fn hit(id: &str, item: Option<&str>, score: f64) -> Value {
        let source = match item {
            Some(i) => json!({"item_id": i, "title": format!("t {id}")}),
            None => json!({"title": format!("t {id}")}),
        };
        json!({"_index": "c", "_id": id, "_score": score, "_source": source})
    }

    #[test]
    fn hits_are_reordered_and_rescored_and_the_rest_kept() {
        let hits = vec![
            hit("d0", Some("i2"), 3.0),
            hit("d1", None, 2.0),
            hit("d2", Some("i0"), 1.5),
            hit("d3", Some("i1"), 1.0),
        ];
        let aggs = r#"{"g":{"buckets":[{"key":"x","doc_count":1.0E10}]}}"#;
        let body = format!(
            r#"{{"took":3,"timed_out":false,"_shards":{{"total":1}},"hits":{{"total":{{"value":4,"relation":"eq"}},"max_score":3.0,"hits":{}}},"aggregations":{aggs}}}"#,
            serde_json::to_string(&hits).unwrap()
        );
        let field = ItemIdField::parse(Some("item_id"));
        let out = rerank_response(body.as_bytes(), &field, &SourceFix::Keep, |ids| {
            assert_eq!(ids, [Some("i2"), None, Some("i0"), Some("i1")]);
            // The model's order: i0, i1, i2; the hit without an id after them.
            attune::blend::blend(&[3, 4, 1, 2], 4, 1.0)
        })
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        // Everything but hits.hits and max_score as OpenSearch wrote it, in its order.
        assert!(
            text.starts_with(r#"{"took":3,"timed_out":false,"_shards":{"total":1},"hits":{"total":{"value":4,"relation":"eq"},"max_score":1.0,"hits":["#),
            "{text}"
        );
        assert!(
            text.ends_with(&format!(r#"]}},"aggregations":{aggs}}}"#)),
            "{text}"
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        let got: Vec<&str> = v["hits"]["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["_id"].as_str().unwrap())
            .collect();
        assert_eq!(got, ["d2", "d3", "d0", "d1"]);
        let scores: Vec<f64> = v["hits"]["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["_score"].as_f64().unwrap())
            .collect();
        let expected = [1.0, 1.0 / 3f64.log2(), 0.5, 1.0 / 5f64.log2()];
        for (g, e) in scores.iter().zip(expected) {
            assert!((g - e).abs() < 1e-12, "{scores:?}");
        }
        assert_eq!(v["hits"]["hits"][0]["_source"], hits[2]["_source"]);
        // The document id as the field.
        let out = rerank_response(
            body.as_bytes(),
            &ItemIdField::parse(Some("_id")),
            &SourceFix::Keep,
            |ids| {
                assert_eq!(ids, [Some("d0"), Some("d1"), Some("d2"), Some("d3")]);
                attune::blend::identity(4)
            },
        );
        assert!(out.is_some());
        // No hits, or no hits.hits: nothing to do.
        for body in [
            r#"{"hits":{"total":{"value":0},"max_score":null,"hits":[]}}"#,
            r#"{"took":1}"#,
            r#"{"hits":{"hits":5}}"#,
            "not json",
        ] {
            assert!(
                rerank_response(body.as_bytes(), &field, &SourceFix::Keep, |_| panic!(
                    "nothing to rank"
                ))
                .is_none(),
                "{body}"
            );
        }
    }

    #[test]
    fn only_the_first_500_hits_carry_ids() {
        let hits: Vec<Value> = (0..600)
            .map(|k| hit(&format!("d{k}"), Some(&format!("i{k}")), 1.0))
            .collect();
        let body = json!({"hits": {"max_score": 1.0, "hits": hits}}).to_string();
        let field = ItemIdField::parse(Some("item_id"));
        let out = rerank_response(body.as_bytes(), &field, &SourceFix::Keep, |ids| {
            assert_eq!(ids.len(), 600);
            assert!(ids[..500].iter().all(Option::is_some));
            assert!(ids[500..].iter().all(Option::is_none));
            attune::blend::identity(600)
        });
        assert!(out.is_some());
    }

    /// A state whose proxy points at a closed port: every forwarded request fails with 502,
    /// so a 502 means "validated and forwarded".
    fn proxied(f: &crate::tests::Fixture, api_key: Option<&str>) -> Arc<AppState> {
        let mut config = f.config();
        config.api_key = api_key.map(str::to_owned);
        config.proxy = Some(ProxyConfig {
            opensearch_url: "http://127.0.0.1:1".into(),
            campaign: Some("rank".into()),
            weight: 0.5,
            item_id_field: "item_id".into(),
        });
        f.state_with(config)
    }

    async fn send(
        s: &Arc<AppState>,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Value,
    ) -> crate::tests::Reply {
        let mut req = http::Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(Bytes::from(body.to_string()))).unwrap();
        crate::tests::call(s, req).await
    }

    #[tokio::test]
    async fn requests_are_checked_before_forwarding() {
        let f = crate::tests::fixture();
        let ext = |user: Value| {
            json!({"query": {"match_all": {}},
            "ext": {"personalize_request_parameters": {"user_id": user}}})
        };
        // Without opensearch_url there is no such route.
        send(&f.state(), "POST", "/c/_search", &[], ext(json!("a")))
            .await
            .assert_error(404, "UnknownOperationException", "/c/_search");
        let s = proxied(&f, None);
        send(&s, "PUT", "/c/_search", &[], json!({}))
            .await
            .assert_error(405, "UnknownOperationException", "GET or POST");
        send(&s, "POST", "/../_search", &[], json!({}))
            .await
            .assert_error(400, "InvalidInputException", "index");
        let cases = [
            ("/c/_search", ext(Value::Null), 400, "InvalidInputException",
             "ext.personalize_request_parameters: [user_id] required"),
            ("/c/_search", ext(json!(5)), 400, "InvalidInputException",
             "user_id doesn't support values of type: VALUE_NUMBER"),
            ("/c/_search", json!({"ext": {"personalize_request_parameters": {"user_id": "a",
                "context": {"bad-key": "v"}}}}), 400, "InvalidInputException", "context key"),
            ("/c/_search?personalize_weight=2", json!({}), 400, "InvalidInputException",
             "personalize_weight: [weight] invalid value for weight"),
            ("/c/_search?personalize_item_id_field=%20", json!({}), 400,
             "InvalidInputException", "personalize_item_id_field"),
            ("/c/_search?personalize_campaign=none", ext(json!("a")), 404,
             "ResourceNotFoundException", "campaign not found: none"),
            ("/c/_search?personalize_campaign=arn:aws:personalize:local:000000000000:campaign/x",
             ext(json!("a")), 404, "ResourceNotFoundException", "campaign/x"),
            ("/c/_search?personalize_campaign=sim", ext(json!("a")), 400,
             "InvalidInputException", "RELATED_ITEMS"),
            // Valid: forwarded, and the closed port answers nothing.
            ("/c/_search", ext(json!("a")), 502, "BadGatewayException", "OpenSearch"),
            ("/_search?personalize_campaign=arn:aws:personalize:local:000000000000:campaign/rank",
             ext(json!("a")), 502, "BadGatewayException", "OpenSearch"),
            ("/c/_search", json!({"query": {"match_all": {}}}), 502, "BadGatewayException",
             "OpenSearch"),
            // Weight 0: the extension is removed, not read.
            ("/c/_search?personalize_weight=0&personalize_campaign=none", ext(Value::Null), 502,
             "BadGatewayException", "OpenSearch"),
        ];
        for (path, body, status, kind, needle) in cases {
            send(&s, "POST", path, &[], body)
                .await
                .assert_error(status, kind, needle);
        }
        send(&s, "GET", "/a,b*/_search", &[], json!({}))
            .await
            .assert_error(502, "BadGatewayException", "OpenSearch");
        // Every request past routing counts under the proxy route (the 405 does not).
        assert!(s
            .render_metrics()
            .contains(r#"attune_http_requests_total{route="proxy"} 14"#));
        // With an API key, proxy routes take it only as x-api-key.
        let s = proxied(&f, Some("k"));
        let auth = ("authorization", "Bearer k");
        send(&s, "POST", "/c/_search", &[auth], json!({}))
            .await
            .assert_error(403, "AccessDeniedException", "x-api-key");
        send(
            &s,
            "POST",
            "/c/_search",
            &[auth, ("x-api-key", "k")],
            json!({}),
        )
        .await
        .assert_error(502, "BadGatewayException", "OpenSearch");
    }

    #[test]
    fn forwarded_headers_are_authorization_content_type_and_opaque_id() {
        let mut h = http::HeaderMap::new();
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Basic YWRtaW46YWRtaW4="),
        );
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert("x-opaque-id", HeaderValue::from_static("trace-1"));
        h.insert("x-api-key", HeaderValue::from_static("attune-secret"));
        h.insert("cookie", HeaderValue::from_static("c=1"));
        let out = forwarded_headers(&h);
        assert_eq!(
            out.get(AUTHORIZATION).map(|v| v.to_str().unwrap()),
            Some("Basic YWRtaW46YWRtaW4=")
        );
        assert_eq!(out.len(), 3);
        assert!(!out.contains_key("x-api-key") && !out.contains_key("cookie"));
    }

    #[test]
    fn msearch_bodies_split_as_opensearch_splits_them() {
        fn bodies(data: &str) -> Vec<&str> {
            msearch_bodies(data.as_bytes())
                .into_iter()
                .map(|r| &data[r])
                .collect()
        }
        assert_eq!(
            bodies("{}\n{\"size\":1}\n{\"index\":\"x\"}\n{}\n"),
            ["{\"size\":1}", "{}"]
        );
        // An empty header line; one newline before the first header is skipped.
        assert_eq!(bodies("\n{}\n{\"a\":1}\n"), ["{\"a\":1}"]);
        assert_eq!(bodies("\n\n{\"a\":1}\n"), ["{\"a\":1}"]);
        // An empty body line is a search (OpenSearch rejects it).
        assert_eq!(bodies("{}\n\n"), [""]);
        // CRLF: the \r stays on the line (JSON whitespace to OpenSearch).
        assert_eq!(bodies("{}\r\n{}\r\n"), ["{}\r"]);
        // No trailing newline: the unterminated line is no search.
        assert_eq!(bodies("{}\n{\"a\":1}"), Vec::<&str>::new());
        assert_eq!(bodies("{}\n{\"a\":1}\n{}\n{\"b\""), ["{\"a\":1}"]);
        assert_eq!(bodies("{}\n"), Vec::<&str>::new());
        assert_eq!(bodies(""), Vec::<&str>::new());
        assert_eq!(
            splice(
                b"0123456789",
                vec![(1..3, b"ab".to_vec()), (5..5, b"X".to_vec())]
            ),
            b"0ab34X56789"
        );
    }

    /// The rank campaign's settings: weight 0.5, item id field `item_id`.
    fn default_settings(s: &AppState) -> Settings<'_> {
        let proxy = s.proxy().unwrap();
        Settings {
            campaign: proxy.config.campaign.as_deref(),
            weight: proxy.config.weight,
            field: proxy.item_id_field.clone(),
        }
    }

    #[test]
    fn msearch_lines_are_stripped_and_the_rest_kept_byte_for_byte() {
        let f = crate::tests::fixture();
        let s = proxied(&f, None);
        let settings = default_settings(&s);
        let body = concat!(
            "{\"index\": \"a\"}\n",
            "{\"query\": {\"match_all\": {}}, \"ext\": {\"personalize_request_parameters\": {\"user_id\": \"u1\"}}, \"from\": 5}\n",
            "{}\r\n",
            "{\"query\":  {\"term\": {\"g\": \"x\"}} ,\"size\": 2}\r\n",
            "\n",
            "{\"_source\": false, \"ext\": {\"other\": 1, \"personalize_request_parameters\": {\"user_id\": \"u2\"}}}\n",
            "{}\n",
            "not json at all\n",
        );
        let Prepared { body: out, reranks } =
            prepare_msearch(&s, &settings, false, body.as_bytes()).unwrap();
        let out = String::from_utf8(out.unwrap()).unwrap();
        assert_eq!(
            out,
            concat!(
                "{\"index\": \"a\"}\n",
                "{\"query\":{\"match_all\": {}},\"from\":5}\n",
                "{}\r\n",
                "{\"query\":  {\"term\": {\"g\": \"x\"}} ,\"size\": 2}\r\n",
                "\n",
                "{\"_source\":{\"excludes\":[],\"includes\":[\"item_id\"]},\"ext\":{\"other\":1}}\n",
                "{}\n",
                "not json at all\n",
            )
        );
        let summary: Vec<Option<(&str, usize, &SourceFix)>> = reranks
            .iter()
            .map(|r| r.as_ref().map(|r| (r.plan.user.as_str(), r.from, &r.fix)))
            .collect();
        assert_eq!(
            summary,
            [
                Some(("u1", 5, &SourceFix::Keep)),
                None,
                Some(("u2", 0, &SourceFix::DropSource)),
                None,
            ]
        );
        // Nothing to strip: nothing rewritten.
        let plain = "{}\n{\"size\":1}\n{\"index\":\"b\"}\n{}\n";
        let Prepared { body: out, reranks } =
            prepare_msearch(&s, &settings, false, plain.as_bytes()).unwrap();
        assert!(out.is_none());
        assert_eq!(reranks.len(), 2);
        assert!(reranks.iter().all(Option::is_none));
        // Weight 0 or a scroll: the extension removed, not read.
        let zero = Settings {
            weight: 0.0,
            ..default_settings(&s)
        };
        let ext = "{}\n{\"ext\":{\"personalize_request_parameters\":{\"user_id\":5}}}\n";
        for (settings, scroll) in [(&zero, false), (&settings, true)] {
            let Prepared { body: out, reranks } =
                prepare_msearch(&s, settings, scroll, ext.as_bytes()).unwrap();
            assert_eq!(out.unwrap(), b"{}\n{}\n");
            assert!(reranks[0].is_none());
        }
    }

    #[test]
    fn a_bad_search_in_an_msearch_is_named_by_its_position() {
        let f = crate::tests::fixture();
        let s = proxied(&f, None);
        let settings = default_settings(&s);
        let ok = r#"{"ext":{"personalize_request_parameters":{"user_id":"u1"}}}"#;
        let cases = [
            (
                r#"{"ext":{"personalize_request_parameters":{"user_id":""}}}"#,
                "search 2: ext.personalize_request_parameters: [user_id] required",
            ),
            (
                r#"{"ext":{"personalize_request_parameters":{"user_id":"u","context":{"bad-key":"v"}}}}"#,
                "search 2: ext.personalize_request_parameters: ",
            ),
            (
                r#"{"_source":{"excludes":["item*"]},"ext":{"personalize_request_parameters":{"user_id":"u"}}}"#,
                "search 2: _source: the exclude pattern \"item*\" also covers the item id field \"item_id\"",
            ),
        ];
        for (bad, message) in cases {
            let body = format!("{{}}\n{ok}\n{{}}\n{bad}\n{{}}\n{ok}\n");
            let e = prepare_msearch(&s, &settings, false, body.as_bytes())
                .err()
                .unwrap_or_else(|| panic!("{bad} accepted"));
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
            assert!(e.message.starts_with(message), "{}", e.message);
        }
    }

    fn source(text: &str) -> Option<SourceFilter> {
        SourceFilter::from_body(serde_json::from_str::<&RawValue>(text).unwrap())
    }

    fn filter(fetch: bool, includes: &[&str], excludes: &[&str]) -> SourceFilter {
        let list = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect();
        SourceFilter {
            fetch,
            includes: list(includes),
            excludes: list(excludes),
        }
    }

    #[test]
    fn source_filters_are_read_as_opensearch_reads_them() {
        assert_eq!(source("false"), Some(filter(false, &[], &[])));
        assert_eq!(source("true"), Some(filter(true, &[], &[])));
        assert_eq!(source(r#""tit*""#), Some(filter(true, &["tit*"], &[])));
        assert_eq!(
            source(r#"["a", "b.c", 1]"#),
            Some(filter(true, &["a", "b.c", "1"], &[]))
        );
        assert_eq!(
            source(r#"{"includes": "a", "exclude": ["b"]}"#),
            Some(filter(true, &["a"], &["b"]))
        );
        assert_eq!(
            source(r#"{"include": [], "excludes": "x"}"#),
            Some(filter(true, &[], &["x"]))
        );
        for other in [
            "null",
            "5",
            r#"{"includes": ["a"], "other": 1}"#,
            r#"[{"a": 1}]"#,
        ] {
            assert_eq!(source(other), None, "{other}");
        }
        let q = SourceFilter::from_query;
        assert_eq!(q("size=5&q=x"), None);
        assert_eq!(q("_source=false"), Some(filter(false, &[], &[])));
        assert_eq!(q("_source=true"), Some(filter(true, &[], &[])));
        assert_eq!(q("_source=TRUE"), Some(filter(true, &["TRUE"], &[])));
        assert_eq!(q("_source="), Some(filter(true, &[], &[])));
        assert_eq!(q("_source=a,b%2Ec"), Some(filter(true, &["a", "b.c"], &[])));
        // _source_includes wins over _source's list; the last of each counts.
        assert_eq!(
            q("_source=a&_source_includes=b&_source_excludes=c&_source_excludes=d"),
            Some(filter(true, &["b"], &["d"]))
        );
        assert_eq!(
            q("_source=false&_source_includes=b"),
            Some(filter(false, &["b"], &[]))
        );
    }

    #[test]
    fn patterns_cover_fields_as_in_opensearch() {
        for (pattern, path) in [
            ("item_id", "item_id"),
            ("item*", "item_id"),
            ("*", "item_id"),
            ("*_id", "item_id"),
            ("i*m*d", "item_id"),
            ("a", "a.b"),
            ("a.*", "a.b"),
            ("a*", "a.b.c"),
            ("a.b", "a.b.c"),
        ] {
            assert!(covers(pattern, path), "{pattern} {path}");
        }
        for (pattern, path) in [
            ("item", "item_id"),
            ("item_id.x", "item_id"),
            ("a.b.c", "a.b"),
            ("b", "a.b"),
            ("a.b", "a.bc"),
            ("*x", "item_id"),
            ("", "item_id"),
        ] {
            assert!(!covers(pattern, path), "{pattern} {path}");
        }
    }

    #[test]
    fn restricted_sources_are_widened_to_fetch_the_item_id() {
        let widen = |f: SourceFilter, field: &str| f.widen(field).unwrap();
        let drop = |f: &str| SourceFix::DropField(f.into());
        // Already fetched: nothing to do.
        for f in [
            filter(true, &[], &[]),
            filter(true, &["title", "item_*"], &[]),
            filter(true, &[], &["title", "item_id.x", "item"]),
            filter(true, &["a"], &["a.c"]),
        ] {
            let field = if f.includes == ["a"] {
                "a.b"
            } else {
                "item_id"
            };
            assert_eq!(f.widen(field).unwrap(), None, "{f:?}");
        }
        // false: only the field, and _source dropped from the hits (any field, nested too).
        for field in ["item_id", "a.b"] {
            assert_eq!(
                widen(filter(false, &["x"], &["y"]), field),
                Some((filter(true, &[field], &[]), SourceFix::DropSource))
            );
        }
        assert_eq!(
            widen(filter(true, &["title"], &["t.x"]), "item_id"),
            Some((
                filter(true, &["title", "item_id"], &["t.x"]),
                drop("item_id")
            ))
        );
        assert_eq!(
            widen(
                filter(true, &[], &["title", "item_id", "item_id"]),
                "item_id"
            ),
            Some((filter(true, &[], &["title"]), drop("item_id")))
        );
        assert_eq!(
            widen(filter(true, &["t*"], &["item_id"]), "item_id"),
            Some((filter(true, &["t*", "item_id"], &[]), drop("item_id")))
        );
        assert_eq!(
            widen(filter(true, &["item_id"], &["item_id"]), "item_id"),
            Some((filter(true, &["item_id"], &[]), drop("item_id")))
        );
        // Errors name the field.
        let err = |f: SourceFilter, field: &str| f.widen(field).unwrap_err();
        assert!(err(filter(true, &[], &["item*"]), "item_id")
            .contains(r#""item*" also covers the item id field "item_id""#));
        assert!(err(filter(true, &[], &["a"]), "a.b").contains(r#""a" also covers"#));
        for field in ["a.b", "a*", "a,b"] {
            let e = err(filter(true, &["title"], &[]), field);
            assert!(
                e.contains(&format!("the item id field {field:?} is not fetched")),
                "{e}"
            );
        }
        let e = err(filter(true, &[], &["a.b"]), "a.b");
        assert!(e.contains("include \"a.b\" in _source"), "{e}");
    }

    #[test]
    fn stored_fields_none_is_recognized() {
        assert!(!stored_fields_none("", b"{}"));
        assert!(stored_fields_none("", br#"{"stored_fields": "_none_"}"#));
        assert!(stored_fields_none("", br#"{"stored_fields": ["_none_"]}"#));
        assert!(!stored_fields_none("", br#"{"stored_fields": ["a"]}"#));
        assert!(stored_fields_none("stored_fields=_none_", b"{}"));
        // The query parameter replaces the body member.
        assert!(!stored_fields_none(
            "stored_fields=a",
            br#"{"stored_fields": "_none_"}"#
        ));
    }

    #[test]
    fn widened_filters_are_written_back() {
        assert_eq!(
            filter(true, &["t", "item_id"], &["x"]).to_body(),
            br#"{"excludes":["x"],"includes":["t","item_id"]}"#
        );
        assert_eq!(
            filter(true, &["t*", "a b"], &["x"])
                .to_query("size=5&_source=t*&q=a%20b&_source_excludes=x,item_id&_source"),
            "size=5&q=a%20b&_source_includes=t*,a%20b&_source_excludes=x"
        );
        assert_eq!(
            filter(true, &[], &[]).to_query("_source_excludes=item_id"),
            "_source=true"
        );
        assert_eq!(
            filter(true, &["item_id"], &[]).to_query("%5Fsource=false&from=3"),
            "from=3&_source_includes=item_id"
        );
        assert_eq!(encode("a,b/é*"), "a%2Cb%2F%C3%A9*");
    }

    #[test]
    fn the_added_field_is_removed_from_each_hit() {
        let hits = vec![
            json!({"_id": "d0", "_score": 2.0, "_source": {"title": "t0", "item_id": "i1", "g": 1}}),
            json!({"_id": "d1", "_score": 1.0, "_source": {"item_id": "i0"}}),
            json!({"_id": "d2", "_score": 0.5, "_source": {}}),
        ];
        let body = json!({"took": 1, "hits": {"max_score": 2.0, "hits": hits}}).to_string();
        let field = ItemIdField::parse(Some("item_id"));
        let order = |fix: SourceFix| -> Value {
            let out = rerank_response(body.as_bytes(), &field, &fix, |ids| {
                assert_eq!(ids, [Some("i1"), Some("i0"), None]);
                attune::blend::blend(&[2, 1, 3], 3, 1.0)
            })
            .unwrap();
            serde_json::from_slice(&out).unwrap()
        };
        let v = order(SourceFix::DropField("item_id".into()));
        let got = &v["hits"]["hits"];
        assert_eq!(got[0]["_id"], "d1");
        assert_eq!(got[0]["_source"], json!({}));
        assert_eq!(got[1]["_source"], json!({"title": "t0", "g": 1}));
        assert_eq!(got[2]["_source"], json!({}));
        let v = order(SourceFix::DropSource);
        for hit in v["hits"]["hits"].as_array().unwrap() {
            assert!(
                hit.get("_source").is_none() && hit.get("_score").is_some(),
                "{hit}"
            );
        }
        let v = order(SourceFix::Keep);
        assert_eq!(v["hits"]["hits"][0]["_source"], json!({"item_id": "i0"}));
    }

    #[test]
    fn msearch_answers_are_reranked_and_errors_pass_through() {
        let body = concat!(
            r#"{"took":9,"responses":["#,
            r#"{"took":1,"hits":{"hits":[{"_id":"a"}]},"status":200},"#,
            r#"{"error":{"type":"index_not_found_exception"},"status":404},"#,
            r#"{"took":2, "hits": {"hits": []}, "status": 200},"#,
            r#"{"took":3,"hits":{"hits":[{"_id":"b"}]}}"#,
            r#"],"extra":{"x": 1}}"#
        );
        let mut seen = Vec::new();
        let out = rerank_msearch(body.as_bytes(), 4, |k, item| {
            assert!(item.starts_with(b"{\"took\""));
            seen.push(k);
            (k != 2).then(|| format!("\"reranked {k}\"").into_bytes())
        })
        .unwrap();
        assert_eq!(seen, [0, 2, 3]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            concat!(
                r#"{"took":9,"responses":["reranked 0","#,
                r#"{"error":{"type":"index_not_found_exception"},"status":404},"#,
                r#"{"took":2, "hits": {"hits": []}, "status": 200},"#,
                r#""reranked 3"],"extra":{"x": 1}}"#
            )
        );
        // Nothing re-ranked, or not one answer per search, or not a multi-search answer:
        // passed through.
        assert!(rerank_msearch(body.as_bytes(), 4, |_, _| None).is_none());
        assert!(rerank_msearch(body.as_bytes(), 3, |_, _| panic!("misaligned")).is_none());
        assert!(rerank_msearch(b"{\"took\":1}", 1, |_, _| panic!("no items")).is_none());
        assert!(answered(br#"{"status":200}"#) && answered(b"{}"));
        assert!(!answered(br#"{"status":500}"#) && !answered(br#"{"error":{}}"#));
    }

    async fn send_raw(
        s: &Arc<AppState>,
        method: &str,
        path: &str,
        body: &str,
    ) -> crate::tests::Reply {
        let req = http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/x-ndjson")
            .body(Full::new(Bytes::from(body.to_owned())))
            .unwrap();
        crate::tests::call(s, req).await
    }

    #[tokio::test]
    async fn msearch_and_source_requests_are_checked_before_forwarding() {
        let f = crate::tests::fixture();
        let s = proxied(&f, None);
        let ext = r#"{"ext":{"personalize_request_parameters":{"user_id":"a"}}}"#;
        let ok = format!("{{}}\n{ext}\n{{\"index\":\"x\"}}\n{{}}\n");
        let cases = [
            (
                "/c/_msearch",
                ok.clone(),
                502,
                "BadGatewayException",
                "OpenSearch".to_owned(),
            ),
            (
                "/_msearch",
                ok.clone(),
                502,
                "BadGatewayException",
                "OpenSearch".into(),
            ),
            (
                "/_msearch?personalize_campaign=none",
                ok.clone(),
                404,
                "ResourceNotFoundException",
                "search 1: campaign not found: none".into(),
            ),
            (
                "/_msearch?personalize_campaign=none",
                "{}\n{}\n".into(),
                502,
                "BadGatewayException",
                "OpenSearch".into(),
            ),
            (
                "/_msearch?personalize_weight=x",
                ok.clone(),
                400,
                "InvalidInputException",
                "personalize_weight".into(),
            ),
            (
                "/c/_msearch",
                format!(
                    "{{}}\n{ext}\n{{}}\n{}\n",
                    r#"{"ext":{"personalize_request_parameters":{}}}"#
                ),
                400,
                "InvalidInputException",
                "search 2: ext.personalize_request_parameters: [user_id] required".into(),
            ),
            (
                "/c/_search?_source_excludes=item*",
                ext.into(),
                400,
                "InvalidInputException",
                "_source: the exclude pattern \"item*\" also covers the item id field \"item_id\""
                    .into(),
            ),
            (
                "/c/_search?personalize_item_id_field=a.b",
                format!(r#"{{"_source":["t"],{}"#, &ext[1..]),
                400,
                "InvalidInputException",
                "_source: the item id field \"a.b\" is not fetched".into(),
            ),
            // Weight 0 or the document id: no _source rewrite, no error.
            (
                "/c/_search?_source_excludes=item*&personalize_weight=0",
                ext.into(),
                502,
                "BadGatewayException",
                "OpenSearch".into(),
            ),
            (
                "/c/_search?_source_excludes=item*&personalize_item_id_field=_id",
                ext.into(),
                502,
                "BadGatewayException",
                "OpenSearch".into(),
            ),
        ];
        let n = cases.len();
        for (path, body, status, kind, needle) in cases {
            send_raw(&s, "POST", path, &body)
                .await
                .assert_error(status, kind, &needle);
        }
        send_raw(&s, "PUT", "/c/_msearch", &ok).await.assert_error(
            405,
            "UnknownOperationException",
            "GET or POST",
        );
        send_raw(&s, "GET", "/c/_msearch", &ok).await.assert_error(
            502,
            "BadGatewayException",
            "OpenSearch",
        );
        // Every request past routing counts under the proxy route.
        assert!(s.render_metrics().contains(&format!(
            r#"attune_http_requests_total{{route="proxy"}} {}"#,
            n + 1
        )));
    }
}
