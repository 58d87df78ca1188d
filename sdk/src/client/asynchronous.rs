//! The async client (feature `async-client`): the same calls, wire types and errors as the
//! blocking [`Client`](super::Client), on tokio and hyper's pooled client, with per-attempt
//! timeouts and retries as the AWS SDKs make them.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderName, HeaderValue};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::{decode, parse_base_url, ClientError, ErrorKind, Response, Result, MAX_BODY_BYTES};
use crate::api::{
    GetPersonalizedRankingRequest, GetPersonalizedRankingResponse, GetRecommendationsRequest,
    GetRecommendationsResponse, PutEventsRequest, PutItemsRequest, PutUsersRequest,
};

/// How failed calls are retried: throttling (`ThrottlingException`, 429), server errors (500,
/// 502, 503, 504) and transport failures (refused, reset, timed out), as the AWS SDKs' standard
/// mode does. Attempt `n` (from 1) waits a random time in `[0, min(max_delay, base_delay ×
/// 2ⁿ⁻¹))` ("full jitter") before the next; other errors are returned at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1: no retry). Default 3, the AWS SDKs' default.
    pub max_attempts: u32,
    /// The backoff cap of the first retry. Default 100 ms.
    pub base_delay: Duration,
    /// The largest backoff. Default 20 s, the AWS SDKs' cap.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// No retries: one attempt per call.
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The wait after failed attempt `attempt` (from 1): full jitter under the exponential cap.
    fn backoff(&self, attempt: u32) -> Duration {
        let cap = self
            .base_delay
            .saturating_mul(1u32 << (attempt - 1).min(30))
            .min(self.max_delay);
        cap.mul_f64(unit_random())
    }
}

/// Whether an error is worth another attempt.
fn retryable(e: &ClientError) -> bool {
    match e {
        ClientError::Transport { .. } => true,
        ClientError::Api(api) => {
            matches!(api.status, 429 | 500 | 502 | 503 | 504) || api.kind() == ErrorKind::Throttling
        }
        ClientError::Decode { .. } | ClientError::InvalidUrl(_) => false,
    }
}

/// A random number in `[0, 1)` (std's per-process random hash keys: no extra dependency).
fn unit_random() -> f64 {
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let x = RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed));
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// An async client for one server, for tokio services. Cheap to clone (clones share the
/// connection pool); every call needs a tokio runtime with IO and time enabled.
///
/// Connections are pooled and kept alive (up to 32 idle, closed after 90 s idle). Each
/// attempt has a timeout (connect, send and read the whole response; default 10 s) and
/// failed calls are retried as [`RetryPolicy`] says.
///
/// ```
/// # mod setup { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/doctest/setup.rs")); }
/// # let (_tmp, store) = setup::trained_store();
/// # let (url, _server) = setup::serve(&store, "secret-key");
/// use std::time::Duration;
///
/// use attune::api::GetRecommendationsRequest;
/// use attune::client::{AsyncClient, ErrorKind, RetryPolicy};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let client = AsyncClient::new(&url)?
///     .with_api_key("secret-key")
///     .with_timeout(Duration::from_secs(2))
///     .with_retry(RetryPolicy { max_attempts: 4, ..RetryPolicy::default() });
/// let campaign = "arn:aws:personalize:local:000000000000:campaign/shop-ranking";
/// let ranking = client
///     .get_personalized_ranking(campaign, "u1", &["i3", "i12", "i40"], None)
///     .await?;
/// assert_eq!(ranking.personalized_ranking.len(), 3);
///
/// let similar = client
///     .get_recommendations(&GetRecommendationsRequest {
///         campaign_arn: Some(campaign.replace("shop-ranking", "shop-similar")),
///         item_id: Some("i7".into()),
///         num_results: Some(5),
///         ..Default::default()
///     })
///     .await?;
/// assert_eq!(similar.item_list.len(), 5);
///
/// // Errors keep the AWS name, and convert into `attune::Error` with `?`.
/// let err = client.get_personalized_ranking(campaign, "u1", &[""], None).await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::InvalidInput);
/// # Ok::<(), attune::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct AsyncClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>,
    /// `http://host:port/prefix`, without a trailing `/`.
    base: String,
    api_key: Option<HeaderValue>,
    timeout: Duration,
    retry: RetryPolicy,
}

/// Idle connections kept per host.
const MAX_IDLE_PER_HOST: usize = 32;
/// How long an idle connection is kept.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

impl AsyncClient {
    /// A client for the server at `base_url` (`http://host[:port][/prefix]`, port 80 by
    /// default). Nothing is connected until the first call.
    pub fn new(base_url: &str) -> Result<AsyncClient> {
        let (authority, prefix) = parse_base_url(base_url)?;
        Ok(AsyncClient::build(
            format!("http://{authority}{prefix}"),
            None,
            Duration::from_secs(10),
            RetryPolicy::default(),
        ))
    }

    fn build(
        base: String,
        api_key: Option<HeaderValue>,
        timeout: Duration,
        retry: RetryPolicy,
    ) -> AsyncClient {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeout));
        let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
            .pool_timer(TokioTimer::new())
            .build(connector);
        AsyncClient {
            inner: Arc::new(Inner {
                http,
                base,
                api_key,
                timeout,
                retry,
            }),
        }
    }

    /// Sends `Authorization: Bearer <key>` with every request. Panics when the key holds
    /// characters a header cannot carry (the server's keys are printable ASCII).
    pub fn with_api_key(self, key: impl Into<String>) -> AsyncClient {
        let value = HeaderValue::try_from(format!("Bearer {}", key.into()))
            .expect("an API key is printable ASCII");
        self.rebuilt(|i| i.api_key = Some(value))
    }

    /// The timeout of each attempt: connecting, sending and reading the whole response
    /// (default 10 s).
    pub fn with_timeout(self, timeout: Duration) -> AsyncClient {
        self.rebuilt(|i| i.timeout = timeout)
    }

    /// How failed calls are retried (default [`RetryPolicy::default`]).
    pub fn with_retry(self, retry: RetryPolicy) -> AsyncClient {
        self.rebuilt(|i| i.retry = retry)
    }

    /// A new client (and pool) with one setting changed.
    fn rebuilt(self, change: impl FnOnce(&mut Settings)) -> AsyncClient {
        let mut s = Settings {
            api_key: self.inner.api_key.clone(),
            timeout: self.inner.timeout,
            retry: self.inner.retry,
        };
        change(&mut s);
        AsyncClient::build(self.inner.base.clone(), s.api_key, s.timeout, s.retry)
    }

    /// The base URL, e.g. `http://127.0.0.1:8080`.
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// GetPersonalizedRanking: re-ranks `input_list` for `user_id` with a PERSONALIZED_RANKING
    /// campaign.
    pub async fn get_personalized_ranking<S: AsRef<str>>(
        &self,
        campaign_arn: &str,
        user_id: &str,
        input_list: &[S],
        context: Option<&BTreeMap<String, String>>,
    ) -> Result<GetPersonalizedRankingResponse> {
        self.personalized_ranking(&GetPersonalizedRankingRequest {
            campaign_arn: campaign_arn.to_owned(),
            user_id: user_id.to_owned(),
            input_list: input_list.iter().map(|s| s.as_ref().to_owned()).collect(),
            context: context.cloned(),
            ..GetPersonalizedRankingRequest::default()
        })
        .await
    }

    /// GetPersonalizedRanking with every member (filters, metadata columns).
    pub async fn personalized_ranking(
        &self,
        request: &GetPersonalizedRankingRequest,
    ) -> Result<GetPersonalizedRankingResponse> {
        self.call_json("/personalize-ranking", request).await
    }

    /// GetRecommendations: related items (`item_id`, Similar-Items campaigns) or items for a
    /// user (`user_id`).
    pub async fn get_recommendations(
        &self,
        request: &GetRecommendationsRequest,
    ) -> Result<GetRecommendationsResponse> {
        self.call_json("/recommendations", request).await
    }

    /// PutEvents: returns once the server has recorded the events durably. A retried call may
    /// record its events twice when only the response was lost; give events an `event_id` to
    /// keep training from counting them twice.
    pub async fn put_events(&self, request: &PutEventsRequest) -> Result<()> {
        self.call_empty("/events", request).await
    }

    /// PutItems into an Items dataset (upserts: a retry is harmless).
    pub async fn put_items(&self, request: &PutItemsRequest) -> Result<()> {
        self.call_empty("/items", request).await
    }

    /// PutUsers into a Users dataset (upserts: a retry is harmless).
    pub async fn put_users(&self, request: &PutUsersRequest) -> Result<()> {
        self.call_empty("/users", request).await
    }

    /// A control-plane operation (`CreateCampaign`, `DescribeSolution`, ...): `POST /` with
    /// `X-Amz-Target: AmazonPersonalize.<operation>`. Returns the response JSON (`{}` for an
    /// empty body).
    pub async fn control(&self, operation: &str, request: &Value) -> Result<Value> {
        let url = self.url("/");
        let body = serde_json::to_vec(request).map_err(|e| decode(&url, e))?;
        let target = format!("AmazonPersonalize.{operation}");
        let resp = self
            .checked(
                "POST",
                "/",
                &[
                    ("content-type", "application/x-amz-json-1.1"),
                    ("x-amz-target", &target),
                ],
                body.into(),
            )
            .await?;
        match resp.json().map_err(|e| decode(&url, e))? {
            Value::Null => Ok(Value::Object(serde_json::Map::new())),
            v => Ok(v),
        }
    }

    /// `GET /health`: `Ok` when the server answers 200.
    pub async fn health(&self) -> Result<()> {
        self.checked("GET", "/health", &[], Bytes::new())
            .await
            .map(drop)
    }

    /// `GET /metrics`: the Prometheus text.
    pub async fn metrics(&self) -> Result<String> {
        Ok(self
            .checked("GET", "/metrics", &[], Bytes::new())
            .await?
            .text())
    }

    /// Sends any request once (no retry) and returns the response as it is, error statuses
    /// included (only transport failures and timeouts are errors). `path` is relative to the
    /// base URL; `Host`, `Content-Length` and the API key are added.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Result<Response> {
        self.attempt(method, path, headers, body.into()).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.inner.base)
    }

    async fn call_json<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        request: &Req,
    ) -> Result<Resp> {
        let url = self.url(path);
        let body = serde_json::to_vec(request).map_err(|e| decode(&url, e))?;
        let resp = self
            .checked(
                "POST",
                path,
                &[("content-type", "application/json")],
                body.into(),
            )
            .await?;
        serde_json::from_slice(&resp.body).map_err(|e| decode(&url, e))
    }

    async fn call_empty<Req: Serialize>(&self, path: &str, request: &Req) -> Result<()> {
        let url = self.url(path);
        let body = serde_json::to_vec(request).map_err(|e| decode(&url, e))?;
        self.checked(
            "POST",
            path,
            &[("content-type", "application/json")],
            body.into(),
        )
        .await
        .map(drop)
    }

    /// Sends with retries; error statuses become [`ClientError::Api`].
    async fn checked(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Response> {
        let retry = self.inner.retry;
        let mut attempt = 1;
        loop {
            // `Bytes` clones share the buffer.
            let result = self
                .attempt(method, path, headers, body.clone())
                .await
                .and_then(|resp| match resp.error() {
                    Some(e) => Err(ClientError::Api(e)),
                    None => Ok(resp),
                });
            match result {
                Err(e) if attempt < retry.max_attempts && retryable(&e) => {
                    tokio::time::sleep(retry.backoff(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// One request and its whole response, within the timeout.
    async fn attempt(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Response> {
        let url = self.url(path);
        let transport = |e: io::Error| ClientError::Transport {
            url: url.clone(),
            source: Arc::new(e),
        };
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(&url)
            .header(
                "user-agent",
                concat!("attune-client/", env!("CARGO_PKG_VERSION")),
            )
            .header("accept", "application/json");
        if let Some(key) = &self.inner.api_key {
            builder = builder.header(hyper::header::AUTHORIZATION, key.clone());
        }
        for (name, value) in headers {
            let name = HeaderName::try_from(*name).map_err(|e| transport(invalid(e)))?;
            let value = HeaderValue::try_from(*value).map_err(|e| transport(invalid(e)))?;
            builder = builder.header(name, value);
        }
        let request = builder
            .body(Full::new(body))
            .map_err(|e| transport(invalid(e)))?;
        let exchange = async {
            let resp = self
                .inner
                .http
                .request(request)
                .await
                .map_err(|e| io_error(&e))?;
            let (parts, body) = resp.into_parts();
            let body = Limited::new(body, MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|e| io_error(&*e))?
                .to_bytes();
            Ok::<_, io::Error>(Response {
                status: parts.status.as_u16(),
                headers: parts
                    .headers
                    .iter()
                    .map(|(n, v)| {
                        (
                            n.as_str().to_owned(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect(),
                body: body.into(),
            })
        };
        match tokio::time::timeout(self.inner.timeout, exchange).await {
            Ok(result) => result.map_err(transport),
            Err(_) => Err(transport(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no complete response within {:?}", self.inner.timeout),
            ))),
        }
    }
}

/// What [`AsyncClient::rebuilt`] changes.
struct Settings {
    api_key: Option<HeaderValue>,
    timeout: Duration,
    retry: RetryPolicy,
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e.to_string())
}

/// An error and its causes as one `io::Error`, with the kind of the innermost `io::Error`
/// (connection refused, reset, ...) when there is one.
fn io_error(e: &(dyn StdError + 'static)) -> io::Error {
    let mut message = e.to_string();
    let mut kind = io::ErrorKind::Other;
    let mut cause: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<io::Error>() {
            kind = io.kind();
        }
        if !std::ptr::addr_eq(c, e) {
            message.push_str(": ");
            message.push_str(&c.to_string());
        }
        cause = c.source();
    }
    io::Error::new(kind, message)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A scripted HTTP/1.1 peer on a loopback socket, answering the canned responses in order
    /// (None: read the request and never answer). A stand-in for the server because the real
    /// one never throttles nor fails with a 5xx on demand. Returns its URL and the count of
    /// requests read.
    async fn scripted(responses: Vec<Option<String>>) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(AtomicUsize::new(0));
        let responses = Arc::new(std::sync::Mutex::new(responses.into_iter()));
        let count = seen.clone();
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let (responses, count) = (responses.clone(), count.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    loop {
                        // One request: the head, then Content-Length bytes.
                        let head_end = loop {
                            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                break i + 4;
                            }
                            let mut chunk = [0u8; 4096];
                            match stream.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length: "))
                            .map_or(0, |n| n.trim().parse().unwrap());
                        while buf.len() < head_end + len {
                            let mut chunk = [0u8; 4096];
                            match stream.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        buf.drain(..head_end + len);
                        count.fetch_add(1, Ordering::SeqCst);
                        let next = responses.lock().unwrap().next();
                        match next {
                            Some(Some(resp)) => stream.write_all(resp.as_bytes()).await.unwrap(),
                            // Silent: hold the connection until the client gives up.
                            _ => {
                                let _ = stream.read(&mut [0u8; 1]).await;
                                return;
                            }
                        }
                    }
                });
            }
        });
        (url, seen)
    }

    fn response(status: &str, headers: &str, body: &str) -> Option<String> {
        Some(format!(
            "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\n\r\n{body}",
            body.len()
        ))
    }

    fn fast(attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts: attempts,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
        }
    }

    #[tokio::test]
    async fn throttling_and_server_errors_are_retried_until_success() {
        let (url, seen) = scripted(vec![
            response("503 Service Unavailable", "", ""),
            response(
                "400 Bad Request",
                "x-amzn-ErrorType: ThrottlingException\r\n",
                r#"{"__type":"ThrottlingException","message":"slow down"}"#,
            ),
            response(
                "200 OK",
                "",
                r#"{"personalizedRanking":[{"itemId":"b","score":0.6},{"itemId":"a"}],
                    "recommendationId":"RID-1"}"#,
            ),
        ])
        .await;
        let client = AsyncClient::new(&url).unwrap().with_retry(fast(3));
        let got = client
            .get_personalized_ranking("arn:c", "u", &["a", "b"], None)
            .await
            .unwrap();
        assert_eq!(got.personalized_ranking[0].item_id, "b");
        assert_eq!(seen.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn retries_are_bounded_and_other_errors_are_not_retried() {
        let (url, seen) = scripted(vec![
            response(
                "500 Internal Server Error",
                "",
                r#"{"__type":"InternalFailure","message":"boom"}"#,
            ),
            response("502 Bad Gateway", "", "bad gateway"),
            response(
                "400 Bad Request",
                "x-amzn-RequestId: r-9\r\n",
                r#"{"__type":"InvalidInputException","message":"inputList: bad"}"#,
            ),
        ])
        .await;
        let client = AsyncClient::new(&url).unwrap().with_retry(fast(2));
        let err = client.health().await.unwrap_err();
        assert_eq!(
            (err.api().unwrap().status, err.kind()),
            (502, ErrorKind::Internal)
        );
        assert_eq!(seen.load(Ordering::SeqCst), 2);
        let err = client.health().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(err.api().unwrap().request_id.as_deref(), Some("r-9"));
        assert_eq!(seen.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn an_attempt_that_gets_no_answer_times_out_and_is_retried() {
        let (url, seen) = scripted(vec![None, None]).await;
        let client = AsyncClient::new(&url)
            .unwrap()
            .with_timeout(Duration::from_millis(200))
            .with_retry(fast(2));
        let err = client.metrics().await.unwrap_err();
        let ClientError::Transport {
            url: called,
            source,
        } = &err
        else {
            panic!("expected a transport error, got {err}");
        };
        assert_eq!(source.kind(), io::ErrorKind::TimedOut);
        assert_eq!(called, &format!("{url}/metrics"));
        assert_eq!(seen.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn backoff_is_jittered_under_an_exponential_cap() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
        };
        for attempt in 1..=6 {
            let cap = Duration::from_millis([100, 200, 350, 350, 350, 350][attempt - 1]);
            let waits: Vec<Duration> = (0..200).map(|_| p.backoff(attempt as u32)).collect();
            assert!(
                waits.iter().all(|w| *w < cap),
                "attempt {attempt}: {waits:?}"
            );
            // Jittered: not all the same, and some below half the cap.
            assert!(waits.iter().any(|w| *w != waits[0]));
            assert!(waits.iter().any(|w| *w < cap / 2));
        }
    }

    #[test]
    fn what_is_retried() {
        let api = |status, name: &str| {
            ClientError::Api(super::super::ApiError {
                status,
                error_type: name.into(),
                message: String::new(),
                request_id: None,
            })
        };
        assert!(retryable(&api(400, "ThrottlingException")));
        assert!(retryable(&api(429, "429")));
        assert!(retryable(&api(503, "ServiceUnavailable")));
        assert!(retryable(&api(500, "InternalFailure")));
        assert!(!retryable(&api(400, "InvalidInputException")));
        assert!(!retryable(&api(404, "ResourceNotFoundException")));
        assert!(!retryable(&api(403, "AccessDeniedException")));
        assert!(!retryable(&ClientError::InvalidUrl("x".into())));
    }
}
