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
//! the blend of `POST /opensearch/rerank` (`crate::ranking::blend_hits`: the first 500 hits
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

mod members;
mod msearch;
mod paths;
mod source;

use std::sync::Arc;

use attune::blend::BlendedHit;
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::request::Parts;
use http::{Response, StatusCode};
use http_body_util::Full;
use plugin_config::{ItemIdField, RequestParameters, REQUEST_EXT};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tracing::warn;

use crate::http::{check_chars, key_matches, ApiError, Failure, Service};
use crate::ranking::{blend_hits, campaign_by_arn, check_context, check_ranking_campaign};
use crate::state::{AppState, LiveCampaign};
use crate::upstream::{undecodable, Upstream};
use members::{strip_ext, Members};
use msearch::{msearch_bodies, rerank_msearch, splice};
use paths::{
    check_index, decode, forwarded_path, has_param, search_target, split_query, Api, Overrides,
    FILTER_PATH,
};
pub use paths::{
    is_scroll_path, is_search_path, CAMPAIGN_PARAM, ITEM_ID_FIELD_PARAM, WEIGHT_PARAM,
};
use source::{stored_fields_none, SourceFilter, SourceFix};

/// Whether the request carries Attune's API key as `x-api-key` (compared in constant time).
fn has_api_key(parts: &Parts, key: &str) -> bool {
    parts
        .headers
        .get("x-api-key")
        .is_some_and(|v| key_matches(v.as_bytes(), key))
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
/// 500; `None` after them and for hits without one) and returns the new order; `fix` restores
/// each hit's `_source` as the client asked for it. Returns `None`, leaving the response as it
/// is, when it has no `hits.hits` array, no hit, or no hit with an item id (logged).
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
    if ids.iter().all(Option::is_none) {
        // Nothing to personalize by: OpenSearch's own scores, not a blend of its order alone.
        warn!(
            hits = hits.len(),
            field = %field.name(),
            "no hit carries the item id field (the documents lack it, or the search's _source \
             leaves it out); passed through as OpenSearch ranked them"
        );
        return None;
    }
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

/// The request's settings: the query parameters over the server's defaults.
struct Settings<'a> {
    campaign: Option<&'a str>,
    weight: f64,
    field: ItemIdField,
}

/// Validates the proxy's query parameters.
fn settings<'a>(upstream: &'a Upstream, own: &'a Overrides) -> Result<Settings<'a>, ApiError> {
    let weight = match &own.weight {
        None => upstream.config().weight,
        Some(w) => plugin_config::weight_from_value(Some(&Value::String(w.clone())))
            .map_err(|e| ApiError::invalid(format!("{WEIGHT_PARAM}: {e}")))?,
    };
    let field = match &own.item_id_field {
        None => upstream.item_id_field().clone(),
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
        campaign: own
            .campaign
            .as_deref()
            .or(upstream.config().campaign.as_deref()),
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
    check_context(Some(&context))
        .map_err(|e| ApiError::invalid(format!("ext.{REQUEST_EXT}: {}", e.message)))?;
    let campaign = match settings.campaign {
        None => {
            return Err(ApiError::invalid(format!(
                "{CAMPAIGN_PARAM}: required: name the campaign in the query \
                 (?{CAMPAIGN_PARAM}=<name or ARN>) or start the server with --proxy-campaign"
            )))
        }
        Some(arn) if arn.starts_with("arn:") => campaign_by_arn(state, Some(arn), Service::Attune)?,
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

/// Whether a search is sorted by anything but `_score` (descending) first: the body's first
/// `sort` entry when it has one, else the first of the `sort` query parameter (OpenSearch adds
/// the parameter's sorts after the body's). Such hits keep OpenSearch's order.
fn sorted_by_field(query: &str, body: &[u8]) -> bool {
    // (field, order) of a sort entry; the order `None` when not given.
    fn first_of_body(sort: &Value) -> Option<(String, Option<String>)> {
        match sort {
            Value::Array(a) => first_of_body(a.first()?),
            Value::String(s) => Some((s.clone(), None)),
            Value::Object(o) => {
                let (field, how) = o.iter().next()?;
                let order = match how {
                    Value::String(s) => Some(s.clone()),
                    Value::Object(h) => h.get("order").and_then(Value::as_str).map(str::to_owned),
                    _ => None,
                };
                Some((field.clone(), order))
            }
            _ => None,
        }
    }
    let from_body = Members::parse(body)
        .and_then(|top| top.get("sort"))
        .and_then(|v| serde_json::from_str::<Value>(v.get()).ok())
        .and_then(|v| first_of_body(&v));
    let first = from_body.or_else(|| {
        let value = query
            .split('&')
            .filter_map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k) == "sort").then(|| decode(v))
            })
            .next_back()?;
        let entry = value.split(',').next()?.trim().to_owned();
        match entry.split_once(':') {
            Some((field, order)) => Some((field.to_owned(), Some(order.to_owned()))),
            None if entry.is_empty() => None,
            None => Some((entry, None)),
        }
    });
    match first {
        None => false,
        Some((field, order)) => {
            field != "_score" || order.is_some_and(|o| !o.eq_ignore_ascii_case("desc"))
        }
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
    // Hits sorted by a field keep that order: the extension is removed, nothing re-ranked.
    if sorted_by_field(query.as_deref().map_or("", String::as_str), &forwarded) {
        return Ok((Some(forwarded), None));
    }
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
    let upstream = state.upstream().ok_or_else(not_found)?;
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
    let settings = settings(upstream, &own)?;
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
    if reranks.iter().any(Option::is_some) && has_param(&query, FILTER_PATH) {
        return Err(ApiError::invalid(format!(
            "{FILTER_PATH}: not supported on a personalized search: the proxy re-ranks from each \
             hit's _id, _score and _source, which {FILTER_PATH} can leave out; leave it out (a \
             search without ext.{REQUEST_EXT} may use it)"
        ))
        .into());
    }
    let forwarded = prepared.body.map_or(body, Bytes::from);
    let answer = upstream
        .forward(
            &parts.method,
            &forwarded_path(api, index, &query),
            &parts.headers,
            forwarded,
            state.config().request_timeout,
        )
        .await?;
    let (status, mut headers, bytes) = (answer.status, answer.headers, answer.body);
    if undecodable(status, &bytes) {
        let s = Arc::clone(state);
        let reset = tokio::task::spawn_blocking(move || {
            if let Some(u) = s.upstream() {
                u.reset();
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
mod tests;
