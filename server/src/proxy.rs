//! The search proxy: Attune in front of an OpenSearch cluster, re-ranking search hits with a
//! Personalized-Ranking campaign (`spec/opensearch.md` 5, option c). It works with a stock
//! cluster of any version: nothing is installed in OpenSearch.
//!
//! With `opensearch_url` configured (`--opensearch-url`), `GET` and `POST /{index}/_search`
//! (`index` a name, a comma list or a pattern) and `/_search` are forwarded to OpenSearch through
//! the `opensearch` crate's raw `send` on one client built at start (connections are reused):
//!
//! - The request keeps its method, path, body, and every query parameter but three:
//!   `personalize_campaign` (a campaign name or ARN), `personalize_weight` (`0.0..=1.0`) and
//!   `personalize_item_id_field` (a `_source` field, `_id` for the document id) override the
//!   server's defaults (`[proxy]` in the config file, `--proxy-*` flags) and are not forwarded.
//! - Headers forwarded: `Authorization` (OpenSearch's credentials, untouched), `Content-Type`
//!   and `X-Opaque-Id`. With an Attune API key configured, proxy routes take it only as
//!   `x-api-key` (the `Authorization` header belongs to OpenSearch).
//! - `ext.personalize_request_parameters` (`{"user_id": ..., "context": {...}}`, the Amazon
//!   plugin's extension) is removed from the body before forwarding (`ext` too when nothing else
//!   is left in it); the rest of the body is forwarded byte for byte.
//!
//! The answer is OpenSearch's, status, body and content type, except that with the extension,
//! a weight above 0, no `scroll` parameter and a 200 JSON answer, `hits.hits` is re-ranked with
//! the blend of `POST /opensearch/rerank` ([`crate::opensearch::blend_hits`]: the first 500 hits
//! blended with the campaign's ranking for the user, including their real-time events, the rest
//! after them in order; items the model does not know after known ones), each hit's `_score`
//! becomes its combined score and `hits.max_score` the first of them. A page other than the
//! first is blended as that page, not as the top of the list: the search's `from` (the query
//! parameter, else the body's top-level `"from"`, else 0; [`search_from`]) shifts both ranks
//! ([`attune::blend::rerank_from`]), so page 2's scores lie below page 1's. Everything else (`took`,
//! `_shards`, `hits.total`, `aggregations`, `suggest`, `pit_id`, `_scroll_id`, the other members
//! of each hit) is passed through as OpenSearch wrote it. Item ids come from each returned hit
//! ([`ItemIdField::extract`]): the field must be in the returned `_source`.
//!
//! Errors: a bad extension or parameter is 400 InvalidInputException naming it, an unknown
//! campaign 404 ResourceNotFoundException, both before anything is sent to OpenSearch; an
//! unreachable cluster 502 (504 on a timeout). OpenSearch's own errors pass through.

use std::fmt;
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
use crate::http::{check_chars, ApiError, Failure, Service};
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

/// Whether a path is a proxied search: `/_search` or `/{index}/_search`.
pub fn is_search_path(path: &str) -> bool {
    search_index(path).is_some()
}

/// The index part of a search path: `Some(None)` for `/_search`, `Some(Some(index))` for
/// `/{index}/_search`, `None` for any other path.
fn search_index(path: &str) -> Option<Option<&str>> {
    let rest = path.strip_prefix('/')?.strip_suffix("_search")?;
    if rest.is_empty() {
        return Some(None);
    }
    let index = rest.strip_suffix('/')?;
    (!index.is_empty() && !index.contains('/')).then_some(Some(index))
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
fn forwarded_path(index: Option<&str>, query: &str) -> String {
    let mut path = match index {
        Some(index) => format!("./{index}/_search"),
        None => "./_search".to_owned(),
    };
    if !query.is_empty() {
        path.push('?');
        path.push_str(query);
    }
    path
}

/// Checks an index segment: none that would leave the search path once resolved.
fn check_index(index: &str) -> Result<(), ApiError> {
    let decoded = decode(index);
    if decoded == "." || decoded == ".." || index.contains('\\') || decoded.contains('/') {
        return Err(ApiError::invalid(format!(
            "index: {decoded:?} is not an index name, list or pattern"
        )));
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

/// Re-ranks the hits of a search response: `blend` gets the hits' item ids (those of the first
/// 500; `None` after them and for hits without one) and returns the new order. Returns `None`,
/// leaving the response as it is, when it has no `hits.hits` array or no hit.
fn rerank_response(
    body: &[u8],
    field: &ItemIdField,
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
            Some(hit) => hit.write(&mut list, &[("_score", &score)]),
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
    parts.headers.get("x-api-key").is_some_and(|v| {
        let given = v.as_bytes();
        given.len() == key.len()
            && given
                .iter()
                .zip(key.as_bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    })
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
    settings: Settings<'_>,
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
        field: settings.field,
    }))
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
    let index = search_index(parts.uri.path()).ok_or_else(not_found)?;
    if let Some(index) = index {
        check_index(index)?;
    }
    let (own, query, scroll) = split_query(parts.uri.query().unwrap_or(""));
    let settings = settings(proxy, &own)?;
    let (forwarded, plan) = match strip_ext(&body) {
        None => (body, None),
        Some((stripped, params)) => {
            let plan = plan(state, settings, params, scroll)?;
            (Bytes::from(stripped), plan)
        }
    };
    let from = plan.as_ref().map_or(0, |_| search_from(&query, &forwarded));
    let method = if parts.method == Method::GET {
        opensearch::http::Method::Get
    } else {
        opensearch::http::Method::Post
    };
    let timeout = state.config().request_timeout;
    let sent = proxy
        .client()
        .send::<Bytes, ()>(
            method,
            &forwarded_path(index, &query),
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
    let body = match plan {
        Some(p) if status == StatusCode::OK && json => {
            let reranked = rerank_response(&bytes, &p.field, |ids| {
                blend_hits(&p.campaign, &p.user, ids, p.weight, from)
            });
            if reranked.is_none() {
                warn_unless_empty(&bytes);
            }
            reranked.map_or(bytes, Bytes::from)
        }
        _ => bytes,
    };
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
        assert_eq!(search_index("/_search"), Some(None));
        assert_eq!(search_index("/catalog/_search"), Some(Some("catalog")));
        assert_eq!(search_index("/a,b*/_search"), Some(Some("a,b*")));
        assert_eq!(
            search_index("/remote:catalog/_search"),
            Some(Some("remote:catalog"))
        );
        for other in [
            "/",
            "/catalog",
            "/catalog/_searchx",
            "/catalog/x_search",
            "/a/b/_search",
            "//_search",
            "/_search/scroll",
            "/catalog/_search/template",
            "/opensearch/rerank",
        ] {
            assert_eq!(search_index(other), None, "{other}");
        }
        assert!(is_search_path("/c/_search") && !is_search_path("/c/_count"));
        assert!(check_index("catalog-*").is_ok());
        for bad in ["..", ".", "%2e%2E", "a%2Fb", "a\\b"] {
            assert!(check_index(bad).is_err(), "{bad}");
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
            join(&forwarded_path(Some("catalog"), "size=5&q=a%20b")),
            "http://127.0.0.1:9200/prefix/catalog/_search?size=5&q=a%20b"
        );
        assert_eq!(
            join(&forwarded_path(None, "")),
            "http://127.0.0.1:9200/prefix/_search"
        );
        for index in ["https:evil.example", "remote:catalog", "http:x"] {
            let url = join(&forwarded_path(Some(index), ""));
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
        let out = rerank_response(body.as_bytes(), &field, |ids| {
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
        let out = rerank_response(body.as_bytes(), &ItemIdField::parse(Some("_id")), |ids| {
            assert_eq!(ids, [Some("d0"), Some("d1"), Some("d2"), Some("d3")]);
            attune::blend::identity(4)
        });
        assert!(out.is_some());
        // No hits, or no hits.hits: nothing to do.
        for body in [
            r#"{"hits":{"total":{"value":0},"max_score":null,"hits":[]}}"#,
            r#"{"took":1}"#,
            r#"{"hits":{"hits":5}}"#,
            "not json",
        ] {
            assert!(
                rerank_response(body.as_bytes(), &field, |_| panic!("nothing to rank")).is_none(),
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
        let out = rerank_response(body.as_bytes(), &field, |ids| {
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
}
