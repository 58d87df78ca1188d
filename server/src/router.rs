//! The router: one entry point, [`handle`], for every request.
//!
//! 1. Every response carries `x-amzn-RequestId`.
//! 2. With an API key configured, every route needs it (`Authorization: Bearer <key>` or
//!    `x-api-key: <key>`): 403 AccessDeniedException otherwise.
//! 3. A request with `X-Amz-Target: AmazonPersonalize.<Op>` is control plane (any path, POST);
//!    else the path decides: `POST /personalize-ranking`, `POST /recommendations`,
//!    `POST /events`, `POST /items`, `POST /users`, `POST /opensearch/rerank`,
//!    `POST /opensearch/scores`, `GET /health`, `GET /metrics`, and with `opensearch_url` set
//!    the search proxy's `GET`/`POST /{index}/_search`, `/_search`, `/{index}/_msearch` and
//!    `/_msearch` ([`crate::proxy`]). Other paths are 404 and other methods 405, both with an
//!    AWS-shaped body.
//! 4. The body is read up to `max_body_bytes` (413 beyond it) and the whole request must finish
//!    within `request_timeout` (408 otherwise).
//! 5. Errors become `{"__type","message"}` plus `x-amzn-ErrorType`; 4xx are not logged, 5xx are
//!    logged here, once, with their cause.
//! 6. Metrics are recorded per route and campaign.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{HeaderValue, ALLOW, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use tracing::{error, Instrument};

use crate::http::{key_matches, ApiError, Failure, Service};
use crate::metrics::{Route, Series};
use crate::state::AppState;
use crate::{control, events, proxy, rerank, runtime};

/// The content type of control-plane responses (awsJson1_1).
pub const AMZ_JSON: &str = "application/x-amz-json-1.1";
/// The content type of runtime and events responses (restJson1).
pub const JSON: &str = "application/json";

/// A random version-4 UUID.
pub fn uuid() -> String {
    let bits: u128 = rand::random();
    let bits = (bits & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    let h = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// What a request asks for.
#[derive(Debug)]
enum Target {
    Control(String),
    Ranking,
    Recommendations,
    Events,
    Items,
    Users,
    OpenSearchRerank,
    OpenSearchScores,
    Proxy,
    Health,
    Metrics,
}

impl Target {
    fn route(&self) -> Route {
        match self {
            Target::Control(_) => Route::Control,
            Target::Ranking => Route::Ranking,
            Target::Recommendations => Route::Recommendations,
            Target::Events => Route::Events,
            Target::Items => Route::Items,
            Target::Users => Route::Users,
            // Campaign-level series are the campaign's ranking series; see crate::rerank.
            Target::OpenSearchRerank | Target::OpenSearchScores => Route::OpenSearch,
            Target::Proxy => Route::Proxy,
            Target::Health => Route::Health,
            Target::Metrics => Route::Metrics,
        }
    }

    fn service(&self) -> Service {
        match self {
            Target::Control(_) => Service::Control,
            Target::Ranking | Target::Recommendations => Service::Runtime,
            Target::Events | Target::Items | Target::Users => Service::Events,
            Target::OpenSearchRerank
            | Target::OpenSearchScores
            | Target::Proxy
            | Target::Health
            | Target::Metrics => Service::Attune,
        }
    }
}

fn error(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        kind,
        message: message.into(),
    }
}

/// Decides the target from the method, path and `X-Amz-Target` (`proxy`: whether the search
/// proxy is on).
fn target<B>(req: &Request<B>, proxy: bool) -> Result<Target, ApiError> {
    let method = req.method();
    if let Some(t) = req.headers().get("x-amz-target") {
        let t = t.to_str().unwrap_or_default();
        if method != Method::POST {
            return Err(error(
                StatusCode::METHOD_NOT_ALLOWED,
                "UnknownOperationException",
                format!("control-plane operations use POST, not {method}"),
            ));
        }
        return match t.strip_prefix("AmazonPersonalize.") {
            Some(op) if !op.is_empty() => Ok(Target::Control(op.to_owned())),
            _ => Err(error(
                StatusCode::BAD_REQUEST,
                "UnknownOperationException",
                format!(
                    "unknown operation {t:?}: X-Amz-Target must be AmazonPersonalize.<Operation>"
                ),
            )),
        };
    }
    let (target, allowed) = match req.uri().path() {
        "/personalize-ranking" => (Target::Ranking, Method::POST),
        "/recommendations" => (Target::Recommendations, Method::POST),
        "/events" => (Target::Events, Method::POST),
        "/items" => (Target::Items, Method::POST),
        "/users" => (Target::Users, Method::POST),
        "/opensearch/rerank" => (Target::OpenSearchRerank, Method::POST),
        "/opensearch/scores" => (Target::OpenSearchScores, Method::POST),
        "/health" => (Target::Health, Method::GET),
        "/metrics" => (Target::Metrics, Method::GET),
        "/" if method == Method::POST => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "UnknownOperationException",
                "POST / needs an X-Amz-Target: AmazonPersonalize.<Operation> header",
            ))
        }
        path if proxy && proxy::is_search_path(path) => {
            let scroll = proxy::is_scroll_path(path);
            if method != Method::GET
                && method != Method::POST
                && !(scroll && method == Method::DELETE)
            {
                let takes = if scroll {
                    "GET, POST or DELETE"
                } else {
                    "GET or POST"
                };
                return Err(error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "UnknownOperationException",
                    format!("{path} takes {takes}, not {method}"),
                ));
            }
            return Ok(Target::Proxy);
        }
        path => {
            return Err(error(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                format!("no route for {method} {path}"),
            ))
        }
    };
    let head_ok = allowed == Method::GET && method == Method::HEAD;
    if *method != allowed && !head_ok {
        return Err(error(
            StatusCode::METHOD_NOT_ALLOWED,
            "UnknownOperationException",
            format!("{} takes {allowed}, not {method}", req.uri().path()),
        ));
    }
    Ok(target)
}

/// Whether the request carries the configured API key (compared in constant time).
fn authorized<B>(req: &Request<B>, key: &str) -> bool {
    let eq = |given: &[u8]| key_matches(given, key);
    let bearer = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .is_some_and(eq);
    bearer
        || req
            .headers()
            .get("x-api-key")
            .is_some_and(|v| eq(v.as_bytes()))
}

/// Reads the body up to the limit.
async fn read_body<B>(body: B, limit: usize, declared: Option<u64>) -> Result<Bytes, ApiError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let too_large = |n: Option<u64>| {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLargeException",
            match n {
                Some(n) => format!(
                    "the request body is {n} bytes; the limit is {limit} bytes (max_body_bytes)"
                ),
                None => {
                    format!("the request body is over the limit of {limit} bytes (max_body_bytes)")
                }
            },
        )
    };
    if let Some(n) = declared.filter(|&n| n > limit as u64) {
        return Err(too_large(Some(n)));
    }
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large(None)),
        Err(e) => Err(ApiError::invalid(format!(
            "could not read the request body: {e}"
        ))),
    }
}

/// A response with a body and the common headers.
fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
    request_id: &HeaderValue,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert("x-amzn-requestid", request_id.clone());
    r
}

fn error_response(
    err: &ApiError,
    content_type: &'static str,
    request_id: &HeaderValue,
) -> Response<Full<Bytes>> {
    let mut r = respond(
        err.status,
        content_type,
        Bytes::from(err.body()),
        request_id,
    );
    r.headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(err.kind));
    if err.status == StatusCode::METHOD_NOT_ALLOWED {
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
    }
    r
}

/// Serves one request.
pub async fn handle<B>(state: Arc<AppState>, req: Request<B>) -> Response<Full<Bytes>>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let started = Instant::now();
    let request_id = HeaderValue::from_str(&uuid()).unwrap_or(HeaderValue::from_static("-"));
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = ?request_id,
    );
    async move {
        let mut series: Option<Arc<Series>> = None;
        let (route, content_type, result) = dispatch(&state, req, &mut series).await;
        let response = match result {
            Ok(r) => {
                let mut r = r;
                r.headers_mut()
                    .insert("x-amzn-requestid", request_id.clone());
                r
            }
            Err(f) => {
                if f.api.is_server_error() {
                    error!(
                        route = route.label(),
                        status = f.api.status.as_u16(),
                        cause = f.cause.as_deref().unwrap_or(&f.api.message),
                        "request failed"
                    );
                }
                error_response(&f.api, content_type, &request_id)
            }
        };
        let status = response.status().as_u16();
        match series {
            Some(s) => s.observe(started.elapsed(), status),
            None => state
                .metrics()
                .route_series(route)
                .observe(started.elapsed(), status),
        }
        response
    }
    .instrument(span)
    .await
}

type Outcome = (Route, &'static str, Result<Response<Full<Bytes>>, Failure>);

async fn dispatch<B>(
    state: &Arc<AppState>,
    req: Request<B>,
    series: &mut Option<Arc<Series>>,
) -> Outcome
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let config = state.config();
    if let Some(key) = &config.api_key {
        if !authorized(&req, key) {
            let content_type = if req.headers().contains_key("x-amz-target") {
                AMZ_JSON
            } else {
                JSON
            };
            return (
                Route::Other,
                content_type,
                Err(error(
                    StatusCode::FORBIDDEN,
                    "AccessDeniedException",
                    "missing or wrong API key: send it as Authorization: Bearer <key> or \
                     x-api-key: <key>",
                )
                .into()),
            );
        }
    }
    let target = match target(&req, state.upstream().is_some()) {
        Ok(t) => t,
        Err(e) => {
            let content_type = if req.headers().contains_key("x-amz-target") {
                AMZ_JSON
            } else {
                JSON
            };
            return (Route::Other, content_type, Err(e.into()));
        }
    };
    let route = target.route();
    let content_type = if target.service() == Service::Control {
        AMZ_JSON
    } else {
        JSON
    };
    let timeout = config.request_timeout;
    let work = serve(state, target, req, series);
    let result = match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(error(
            StatusCode::REQUEST_TIMEOUT,
            "RequestTimeoutException",
            format!(
                "the request did not complete within {} ms (request_timeout_ms)",
                timeout.as_millis()
            ),
        )
        .into()),
    };
    (route, content_type, result)
}

async fn serve<B>(
    state: &Arc<AppState>,
    target: Target,
    req: Request<B>,
    series: &mut Option<Arc<Series>>,
) -> Result<Response<Full<Bytes>>, Failure>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let placeholder = HeaderValue::from_static("-");
    match target {
        Target::Health => {
            return Ok(respond(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                Bytes::from_static(b"ok"),
                &placeholder,
            ))
        }
        Target::Metrics => {
            return Ok(respond(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                Bytes::from(state.render_metrics()),
                &placeholder,
            ))
        }
        _ => {}
    }
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (parts, body) = req.into_parts();
    let body = read_body(body, state.config().max_body_bytes, declared).await?;
    let ok_json = |bytes: Vec<u8>| respond(StatusCode::OK, JSON, Bytes::from(bytes), &placeholder);
    let empty = || respond(StatusCode::OK, JSON, Bytes::new(), &placeholder);
    match target {
        Target::Ranking => Ok(ok_json(runtime::personalized_ranking(
            state, &body, series,
        )?)),
        Target::Recommendations => Ok(ok_json(runtime::recommendations(state, &body, series)?)),
        Target::OpenSearchRerank => Ok(ok_json(rerank::rerank(state, &body, series)?)),
        Target::OpenSearchScores => Ok(ok_json(rerank::scores(state, &body, series)?)),
        Target::Proxy => proxy::search(state, &parts, body).await,
        Target::Events => events::put_events(Arc::clone(state), body)
            .await
            .map(|()| empty()),
        Target::Items => events::put_items(Arc::clone(state), body)
            .await
            .map(|()| empty()),
        Target::Users => events::put_users(Arc::clone(state), body)
            .await
            .map(|()| empty()),
        Target::Control(op) => {
            let state = Arc::clone(state);
            // The control plane reloads the campaigns itself after campaign changes.
            let value = tokio::task::spawn_blocking(move || control::dispatch(&state, &op, &body))
                .await
                .map_err(|e| Failure::internal(format!("control-plane task failed: {e}")))??;
            let bytes = match value {
                serde_json::Value::Null => b"{}".to_vec(),
                v => serde_json::to_vec(&v)
                    .map_err(|e| Failure::internal(format!("cannot encode the response: {e}")))?,
            };
            Ok(respond(
                StatusCode::OK,
                AMZ_JSON,
                Bytes::from(bytes),
                &placeholder,
            ))
        }
        Target::Health | Target::Metrics => Ok(empty()),
    }
}
