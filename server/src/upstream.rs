//! The OpenSearch cluster the search proxy ([`crate::proxy`]) forwards to: one client of the
//! `opensearch` crate, built at start from `opensearch_url` and kept in the [`crate::state`]
//! (its connections are reused), the headers that cross it both ways, and the gateway errors
//! when the cluster does not answer.

use std::fmt;
use std::sync::RwLock;
use std::time::Duration;

use bytes::Bytes;
use http::header::HeaderName;
use http::{HeaderMap, Method, StatusCode};
use opensearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use opensearch::http::Url;
use opensearch::OpenSearch;
use plugin_config::ItemIdField;
use tracing::warn;

use crate::config::ProxyConfig;
use crate::http::{ApiError, Failure};
use crate::sync::{read, write};

/// Request headers forwarded to OpenSearch.
const FORWARDED_HEADERS: [&str; 3] = ["authorization", "content-type", "x-opaque-id"];
/// Response headers passed back from OpenSearch (besides the content type).
const RETURNED_HEADERS: [&str; 2] = ["warning", "x-opaque-id"];

/// The search proxy's client and defaults, built once at start.
pub struct Upstream {
    /// Cloned per request (the clones share one connection pool); replaced only to drop a
    /// pool holding a connection OpenSearch no longer answers on ([`Upstream::reset`]).
    client: RwLock<OpenSearch>,
    url: Url,
    config: ProxyConfig,
    item_id_field: ItemIdField,
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upstream")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// OpenSearch's answer: its status, its content type and [`RETURNED_HEADERS`], and its body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Upstream {
    /// The client for a validated configuration (connections open on first use).
    pub fn new(config: &ProxyConfig) -> Result<Upstream, String> {
        let url = Url::parse(&config.opensearch_url).map_err(|e| format!("opensearch_url: {e}"))?;
        Ok(Upstream {
            client: RwLock::new(build_client(&url)?),
            url,
            config: config.clone(),
            item_id_field: ItemIdField::parse(Some(&config.item_id_field)),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ProxyConfig {
        &self.config
    }

    /// The default item id field (the configuration's, parsed).
    pub(crate) fn item_id_field(&self) -> &ItemIdField {
        &self.item_id_field
    }

    /// Sends one request (`path` relative to the cluster URL, `headers` the client's: those of
    /// [`FORWARDED_HEADERS`] go along) and reads the whole answer. 504 when OpenSearch does not
    /// answer within `timeout`, 502 when it cannot be reached or its answer cannot be read.
    pub(crate) async fn forward(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Answer, Failure> {
        let method = match *method {
            Method::GET => opensearch::http::Method::Get,
            Method::DELETE => opensearch::http::Method::Delete,
            _ => opensearch::http::Method::Post,
        };
        let client = read(&self.client).clone();
        let sent = client
            .send::<Bytes, ()>(
                method,
                path,
                forwarded_headers(headers),
                None,
                (!body.is_empty()).then_some(body),
                Some(timeout),
            )
            .await;
        let url = &self.config.opensearch_url;
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
        let mut headers = HeaderMap::new();
        for name in std::iter::once("content-type").chain(RETURNED_HEADERS) {
            for v in answer.headers().get_all(name) {
                headers.append(HeaderName::from_static(name), v.clone());
            }
        }
        let body = answer.bytes().await.map_err(|e| {
            gateway_error(
                StatusCode::BAD_GATEWAY,
                "BadGatewayException",
                format!("reading OpenSearch's answer from {url} failed: {e}"),
            )
        })?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// Replaces the client, dropping its pooled connections. OpenSearch (2.19) answers a
    /// request it cannot decode (a header or request line over `http.max_header_size` or
    /// `http.max_initial_line_length`) with a 400 but keeps the connection open and never
    /// answers on it again; reused, it would stall the next search until the timeout.
    /// BLOCKING (building a TLS client may read the system's certificates).
    pub(crate) fn reset(&self) {
        match build_client(&self.url) {
            Ok(c) => *write(&self.client) = c,
            Err(e) => warn!(cause = %e, "cannot rebuild the OpenSearch client"),
        }
    }
}

fn build_client(url: &Url) -> Result<OpenSearch, String> {
    let transport = TransportBuilder::new(SingleNodeConnectionPool::new(url.clone()))
        .build()
        .map_err(|e| format!("cannot build the OpenSearch client: {e}"))?;
    Ok(OpenSearch::new(transport))
}

/// Whether an OpenSearch error answer says it could not decode the request (see
/// [`Upstream::reset`]).
pub(crate) fn undecodable(status: StatusCode, body: &[u8]) -> bool {
    status == StatusCode::BAD_REQUEST && body.windows(9).any(|w| w == b"too_long_")
}

/// The headers sent to OpenSearch: those of [`FORWARDED_HEADERS`] the client sent (one value
/// each).
pub(crate) fn forwarded_headers(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(FORWARDED_HEADERS.len());
    for name in FORWARDED_HEADERS {
        if let Some(v) = headers.get(name) {
            out.insert(HeaderName::from_static(name), v.clone());
        }
    }
    out
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
