//! A client for an Attune server (feature `client`): the runtime API (GetPersonalizedRanking,
//! GetRecommendations), the events API (PutEvents, PutItems, PutUsers), the control plane
//! (any `AmazonPersonalize.<Operation>` as JSON) and the server's own `/health` and `/metrics`.
//!
//! ```
//! # mod setup { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/doctest/setup.rs")); }
//! # let (_tmp, store) = setup::trained_store();
//! # let (url, _server) = setup::serve(&store, "secret");
//! use attune::api::{Event, PutEventsRequest};
//! use attune::client::Client;
//!
//! let client = Client::new(&url)?.with_api_key("secret"); // e.g. http://127.0.0.1:8080
//! let campaign = "arn:aws:personalize:local:000000000000:campaign/shop-ranking";
//! let ranking = client.get_personalized_ranking(campaign, "u1", &["i7", "i42"], None)?;
//! println!("{:?}", ranking.personalized_ranking);
//!
//! // A click on the first item, with the ranking it followed, through the group's tracker.
//! let trackers = client.control("ListEventTrackers", &serde_json::json!({}))?;
//! let arn = &trackers["eventTrackers"][0]["eventTrackerArn"];
//! let tracker =
//!     client.control("DescribeEventTracker", &serde_json::json!({ "eventTrackerArn": arn }))?;
//! client.put_events(&PutEventsRequest {
//!     tracking_id: tracker["eventTracker"]["trackingId"].as_str().unwrap().to_owned(),
//!     session_id: "session-1".into(),
//!     user_id: Some("u1".into()),
//!     event_list: vec![Event {
//!         event_type: "click".into(),
//!         item_id: Some(ranking.personalized_ranking[0].item_id.clone()),
//!         recommendation_id: Some(ranking.recommendation_id.clone()),
//!         sent_at: 1_700_000_000.0,
//!         ..Event::default()
//!     }],
//! })?;
//! # Ok::<(), attune::client::ClientError>(())
//! ```
//!
//! Error responses come back as [`ClientError::Api`] with the status, the AWS error name (the
//! `x-amzn-ErrorType` header, else the body's `__type`) and the message, so callers can match
//! on [`ErrorKind`].
//!
//! [`Client`] is blocking (std sockets, pooled keep-alive connections, no runtime); with the
//! feature `async-client`, `AsyncClient` makes the same calls from tokio, with per-attempt
//! timeouts and bounded, jittered retries on throttling and 5xx (`RetryPolicy`). Both share the
//! wire types of [`crate::api`] and the errors below.
//!
//! The transport is plain HTTP/1.1 (no TLS: put a proxy in front for that).
// Blocking HTTP/1.1 over std::net rather than hyper: no async runtime and no extra dependency
// for callers (tests, CLI tools, worker threads), and pooled keep-alive connections make it as
// fast as the server on loopback.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

#[cfg(feature = "async-client")]
mod asynchronous;
#[cfg(feature = "async-client")]
pub use asynchronous::{AsyncClient, RetryPolicy};

use crate::api::{
    ErrorBody, GetPersonalizedRankingRequest, GetPersonalizedRankingResponse,
    GetRecommendationsRequest, GetRecommendationsResponse, PutEventsRequest, PutItemsRequest,
    PutUsersRequest,
};

/// Result with a [`ClientError`].
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// The longest response head (status line and headers) the client reads.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The largest response body the client reads.
const MAX_BODY_BYTES: usize = 256 * 1024 * 1024;
/// Idle connections kept for reuse.
const MAX_IDLE_CONNECTIONS: usize = 32;

/// What can go wrong calling the server.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with an error status.
    #[error("{0}")]
    Api(ApiError),
    /// The request could not be sent or the response not read (connection refused, reset,
    /// timed out, malformed HTTP).
    #[error("{url}: {source}")]
    Transport {
        /// The URL called.
        url: String,
        /// The underlying error.
        source: Arc<io::Error>,
    },
    /// A success response whose body is not the API's JSON.
    #[error("{url}: unexpected response body: {reason}")]
    Decode {
        /// The URL called.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The base URL is not `http://host[:port][/prefix]`.
    #[error("invalid base URL {0:?}: expected http://host[:port][/prefix]")]
    InvalidUrl(String),
}

impl ClientError {
    /// The API error, when the server answered with one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            ClientError::Api(e) => Some(e),
            _ => None,
        }
    }

    /// The kind of API error ([`ErrorKind::Transport`] when there was no answer).
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClientError::Api(e) => e.kind(),
            _ => ErrorKind::Transport,
        }
    }
}

/// An error response: `{"__type": ..., "message": ...}` with its status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {error_type}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The AWS error name without namespace or suffix (`InvalidInputException`), or the status
    /// as a string when the response names none.
    pub error_type: String,
    /// The message.
    pub message: String,
    /// The `x-amzn-RequestId` header, when present.
    pub request_id: Option<String>,
}

impl ApiError {
    /// The error name as an enum; an unnamed 5xx is [`ErrorKind::Internal`].
    pub fn kind(&self) -> ErrorKind {
        match ErrorKind::from_type(&self.error_type) {
            ErrorKind::Other if self.status >= 500 => ErrorKind::Internal,
            kind => kind,
        }
    }
}

/// AWS error names the server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `InvalidInputException` (400).
    InvalidInput,
    /// `ResourceNotFoundException` (404 on runtime and events, 400 on the control plane).
    ResourceNotFound,
    /// `ResourceAlreadyExistsException`.
    ResourceAlreadyExists,
    /// `ResourceInUseException` (409 on events).
    ResourceInUse,
    /// `LimitExceededException`.
    LimitExceeded,
    /// `InvalidNextTokenException`.
    InvalidNextToken,
    /// `UnknownOperationException`: an unknown `X-Amz-Target`.
    UnknownOperation,
    /// `SerializationException`: a body that is not the operation's JSON.
    Serialization,
    /// `ThrottlingException`.
    Throttling,
    /// `AccessDeniedException` / `UnrecognizedClientException`: a missing or wrong API key.
    AccessDenied,
    /// `InternalFailure` / `ServiceUnavailable` or any 5xx.
    Internal,
    /// Any other name.
    Other,
    /// No response (see [`ClientError::Transport`]).
    Transport,
}

impl ErrorKind {
    /// The kind of an AWS error name.
    pub fn from_type(name: &str) -> ErrorKind {
        match name {
            "InvalidInputException" | "ValidationException" => ErrorKind::InvalidInput,
            "ResourceNotFoundException" => ErrorKind::ResourceNotFound,
            "ResourceAlreadyExistsException" => ErrorKind::ResourceAlreadyExists,
            "ResourceInUseException" => ErrorKind::ResourceInUse,
            "LimitExceededException" => ErrorKind::LimitExceeded,
            "InvalidNextTokenException" => ErrorKind::InvalidNextToken,
            "UnknownOperationException" => ErrorKind::UnknownOperation,
            "SerializationException" => ErrorKind::Serialization,
            "ThrottlingException" | "TooManyRequestsException" => ErrorKind::Throttling,
            "AccessDeniedException"
            | "UnrecognizedClientException"
            | "MissingAuthenticationTokenException" => ErrorKind::AccessDenied,
            "InternalFailure" | "InternalServerError" | "ServiceUnavailable" => ErrorKind::Internal,
            _ => ErrorKind::Other,
        }
    }
}

impl From<ClientError> for crate::Error {
    /// Maps a client error onto the SDK's error: API errors by kind (the message kept whole),
    /// transport errors to [`crate::Error::Io`] with the URL as the path.
    fn from(e: ClientError) -> crate::Error {
        use crate::Error as E;
        match e {
            ClientError::Api(api) => match api.kind() {
                ErrorKind::InvalidInput | ErrorKind::Serialization => E::InvalidInput(api.message),
                ErrorKind::ResourceNotFound => E::NotFound {
                    kind: "resource",
                    name: api.message,
                },
                ErrorKind::ResourceAlreadyExists => E::AlreadyExists {
                    kind: "resource",
                    name: api.message,
                },
                ErrorKind::ResourceInUse => E::ResourceInUse(api.message),
                ErrorKind::LimitExceeded | ErrorKind::Throttling => E::LimitExceeded(api.message),
                _ => E::InvalidInput(api.to_string()),
            },
            ClientError::Transport { url, source } => E::Io {
                path: url.into(),
                source,
            },
            ClientError::Decode { .. } | ClientError::InvalidUrl(_) => {
                E::InvalidInput(e.to_string())
            }
        }
    }
}

/// A raw HTTP response (see [`Client::request`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl Response {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (`null` when empty).
    pub fn json(&self) -> serde_json::Result<Value> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body)
    }

    /// The error this response stands for, or `None` for a 2xx status. The name comes from
    /// the `x-amzn-ErrorType` header, else the body's `__type` or `code`, else the status;
    /// `namespace#` prefixes and `:suffix`es are stripped (botocore's rules).
    pub fn error(&self) -> Option<ApiError> {
        if (200..300).contains(&self.status) {
            return None;
        }
        let body: Option<Value> = serde_json::from_slice(&self.body).ok();
        let field = |name: &str| {
            body.as_ref()
                .and_then(|b| b.get(name))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let error_type = self
            .header("x-amzn-ErrorType")
            .map(str::to_owned)
            .or_else(|| field("__type"))
            .or_else(|| field("code"))
            .or_else(|| field("Code"))
            .map_or_else(|| self.status.to_string(), |t| clean_type(&t).to_owned());
        let message = body
            .as_ref()
            .and_then(|b| serde_json::from_value::<ErrorBody>(b.clone()).ok())
            .map(|b| b.message)
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| self.text());
        Some(ApiError {
            status: self.status,
            error_type,
            message,
            request_id: self.header("x-amzn-RequestId").map(str::to_owned),
        })
    }
}

/// `http://host[:port][/prefix]` -> (`host:port`, `/prefix` without a trailing `/`).
fn parse_base_url(base_url: &str) -> Result<(String, String)> {
    let bad = || ClientError::InvalidUrl(base_url.to_owned());
    let rest = base_url.strip_prefix("http://").ok_or_else(bad)?;
    let (authority, prefix) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    let has_port = match authority.rfind(']') {
        Some(close) => authority[close..].contains(':'),
        None => authority.contains(':'),
    };
    let authority = if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    Ok((authority, prefix.to_owned()))
}

/// `ns#Name:suffix` -> `Name`.
fn clean_type(t: &str) -> &str {
    let t = t.split(':').next().unwrap_or(t);
    t.rsplit('#').next().unwrap_or(t).trim()
}

/// A client for one server. Cheap to share between threads (`&Client` or `Arc<Client>`):
/// each call takes an idle keep-alive connection from the pool or opens one.
#[derive(Debug)]
pub struct Client {
    /// `host:port` to connect to.
    authority: String,
    /// The path prefix of the base URL, without a trailing `/`.
    prefix: String,
    api_key: Option<String>,
    timeout: Duration,
    idle: Mutex<Vec<Connection>>,
}

#[derive(Debug)]
struct Connection {
    reader: BufReader<TcpStream>,
}

impl Client {
    /// A client for the server at `base_url` (`http://host[:port][/prefix]`, port 80 by
    /// default). Nothing is connected until the first call.
    pub fn new(base_url: &str) -> Result<Client> {
        let (authority, prefix) = parse_base_url(base_url)?;
        Ok(Client {
            authority,
            prefix,
            api_key: None,
            timeout: Duration::from_secs(60),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Sends `Authorization: Bearer <key>` with every request.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Client {
        self.api_key = Some(key.into());
        self
    }

    /// The connect, read and write timeout of each request (default 60 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.timeout = timeout;
        self
    }

    /// The base URL, e.g. `http://127.0.0.1:8080`.
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.authority, self.prefix)
    }

    /// GetPersonalizedRanking: re-ranks `input_list` for `user_id` with a PERSONALIZED_RANKING
    /// campaign.
    pub fn get_personalized_ranking<S: AsRef<str>>(
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
    }

    /// GetPersonalizedRanking with every member (filters, metadata columns).
    pub fn personalized_ranking(
        &self,
        request: &GetPersonalizedRankingRequest,
    ) -> Result<GetPersonalizedRankingResponse> {
        self.call_json("/personalize-ranking", request)
    }

    /// GetRecommendations: related items (`item_id`, Similar-Items campaigns) or items for a
    /// user (`user_id`).
    pub fn get_recommendations(
        &self,
        request: &GetRecommendationsRequest,
    ) -> Result<GetRecommendationsResponse> {
        self.call_json("/recommendations", request)
    }

    /// PutEvents: returns once the server has recorded the events durably.
    pub fn put_events(&self, request: &PutEventsRequest) -> Result<()> {
        self.call_empty("/events", request)
    }

    /// PutItems into an Items dataset.
    pub fn put_items(&self, request: &PutItemsRequest) -> Result<()> {
        self.call_empty("/items", request)
    }

    /// PutUsers into a Users dataset.
    pub fn put_users(&self, request: &PutUsersRequest) -> Result<()> {
        self.call_empty("/users", request)
    }

    /// A control-plane operation (`CreateCampaign`, `DescribeSolution`, ...): `POST /` with
    /// `X-Amz-Target: AmazonPersonalize.<operation>`. Returns the response JSON (`{}` for an
    /// empty body).
    pub fn control(&self, operation: &str, request: &Value) -> Result<Value> {
        let url = self.url("/");
        let body = serde_json::to_vec(request).map_err(|e| decode(&url, e))?;
        let target = format!("AmazonPersonalize.{operation}");
        let resp = self.checked(
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-amz-json-1.1"),
                ("X-Amz-Target", &target),
            ],
            &body,
        )?;
        match resp.json().map_err(|e| decode(&url, e))? {
            Value::Null => Ok(Value::Object(serde_json::Map::new())),
            v => Ok(v),
        }
    }

    /// `GET /health`: `Ok` when the server answers 200.
    pub fn health(&self) -> Result<()> {
        self.checked("GET", "/health", &[], &[]).map(drop)
    }

    /// `GET /metrics`: the Prometheus text.
    pub fn metrics(&self) -> Result<String> {
        Ok(self.checked("GET", "/metrics", &[], &[])?.text())
    }

    /// Sends any request and returns the response as it is, error statuses included (only
    /// transport failures are errors). `path` is relative to the base URL; `Host`,
    /// `Content-Length` and the API key are added.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response> {
        let head = self.head(method, path, headers, body.len());
        // A pooled connection may have been closed by the server while idle: if it fails
        // before any byte of the response arrived, the request is retried once on a new one.
        if let Some(conn) = self.take_idle() {
            match self.exchange(conn, &head, body) {
                Ok(resp) => return Ok(resp),
                Err(Failure::Stale) => {}
                Err(Failure::Io(e)) => return Err(self.transport(path, e)),
            }
        }
        let conn = self.connect().map_err(|e| self.transport(path, e))?;
        self.exchange(conn, &head, body).map_err(|f| match f {
            Failure::Stale => self.transport(
                path,
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection without a response",
                ),
            ),
            Failure::Io(e) => self.transport(path, e),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}{}", self.authority, self.prefix, path)
    }

    fn transport(&self, path: &str, e: io::Error) -> ClientError {
        ClientError::Transport {
            url: self.url(path),
            source: Arc::new(e),
        }
    }

    fn call_json<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        request: &Req,
    ) -> Result<Resp> {
        let url = self.url(path);
        let body = serde_json::to_vec(request).map_err(|e| decode(&url, e))?;
        let resp = self.checked("POST", path, &[("Content-Type", "application/json")], &body)?;
        serde_json::from_slice(&resp.body).map_err(|e| decode(&url, e))
    }

    fn call_empty<Req: Serialize>(&self, path: &str, request: &Req) -> Result<()> {
        let url = self.url(path);
        let body = serde_json::to_vec(request).map_err(|e| decode(&url, e))?;
        self.checked("POST", path, &[("Content-Type", "application/json")], &body)
            .map(drop)
    }

    /// [`Client::request`], with error statuses turned into [`ClientError::Api`].
    fn checked(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response> {
        let resp = self.request(method, path, headers, body)?;
        match resp.error() {
            Some(e) => Err(ClientError::Api(e)),
            None => Ok(resp),
        }
    }

    fn head(&self, method: &str, path: &str, headers: &[(&str, &str)], len: usize) -> Vec<u8> {
        let mut h = format!(
            "{method} {}{path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: attune-client/{}\r\n\
             Accept: application/json\r\nContent-Length: {len}\r\n",
            self.prefix,
            self.authority,
            env!("CARGO_PKG_VERSION")
        );
        if let Some(key) = &self.api_key {
            h.push_str(&format!("Authorization: Bearer {key}\r\n"));
        }
        for (name, value) in headers {
            h.push_str(&format!("{name}: {value}\r\n"));
        }
        h.push_str("\r\n");
        h.into_bytes()
    }

    fn take_idle(&self) -> Option<Connection> {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    fn put_idle(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_CONNECTIONS {
            idle.push(conn);
        }
    }

    fn connect(&self) -> io::Result<Connection> {
        use std::net::ToSocketAddrs;
        let mut last = None;
        for addr in self.authority.to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, self.timeout) {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    stream.set_read_timeout(Some(self.timeout))?;
                    stream.set_write_timeout(Some(self.timeout))?;
                    return Ok(Connection {
                        reader: BufReader::new(stream),
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, "the host resolves to no address")
        }))
    }

    /// Writes one request and reads its response; returns the connection to the pool when
    /// the server keeps it open.
    fn exchange(
        &self,
        mut conn: Connection,
        head: &[u8],
        body: &[u8],
    ) -> std::result::Result<Response, Failure> {
        let mut request = Vec::with_capacity(head.len() + body.len());
        request.extend_from_slice(head);
        request.extend_from_slice(body);
        if let Err(e) = conn.reader.get_mut().write_all(&request) {
            return Err(if conn_gone(&e) {
                Failure::Stale
            } else {
                Failure::Io(e)
            });
        }
        let (resp, keep_alive) = read_response(&mut conn.reader)?;
        if keep_alive {
            self.put_idle(conn);
        }
        Ok(resp)
    }
}

/// Why an exchange failed: before any response byte on a reused connection (`Stale`, retried)
/// or otherwise.
enum Failure {
    Stale,
    Io(io::Error),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Io(e)
    }
}

fn conn_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
    )
}

fn decode(url: &str, e: serde_json::Error) -> ClientError {
    ClientError::Decode {
        url: url.to_owned(),
        reason: e.to_string(),
    }
}

fn bad_data(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads one response; also says whether the connection can carry another request.
fn read_response(r: &mut BufReader<TcpStream>) -> std::result::Result<(Response, bool), Failure> {
    let mut line = String::new();
    match r.read_line(&mut line) {
        Ok(0) => return Err(Failure::Stale),
        Err(e) if conn_gone(&e) => return Err(Failure::Stale),
        Err(e) => return Err(Failure::Io(e)),
        Ok(_) => {}
    }
    let mut parts = line.trim_end().splitn(3, ' ');
    let version = parts.next().unwrap_or("").to_owned();
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|_| version.starts_with("HTTP/1."))
        .ok_or_else(|| bad_data(format!("bad status line {:?}", line.trim_end())))?;
    let mut headers = Vec::new();
    let mut head_bytes = line.len();
    loop {
        line.clear();
        let n = r.read_line(&mut line)?;
        if n == 0 {
            return Err(bad_data("the connection closed inside the response head").into());
        }
        head_bytes += n;
        if head_bytes > MAX_HEAD_BYTES {
            return Err(bad_data("the response head is too large").into());
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        let (name, value) = l
            .split_once(':')
            .ok_or_else(|| bad_data(format!("bad header line {l:?}")))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut resp = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let connection = resp.header("connection").map(str::to_ascii_lowercase);
    let mut keep_alive = match connection.as_deref() {
        Some(c) if c.contains("close") => false,
        Some(c) if c.contains("keep-alive") => true,
        _ => version == "HTTP/1.1",
    };
    let chunked = resp
        .header("transfer-encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    if status == 204 || status == 304 || (100..200).contains(&status) {
        // No body.
    } else if chunked {
        read_chunked(r, &mut resp.body)?;
    } else if let Some(len) = resp.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| bad_data(format!("bad Content-Length {len:?}")))?;
        if len > MAX_BODY_BYTES {
            return Err(bad_data(format!("the response body is too large ({len} bytes)")).into());
        }
        resp.body.resize(len, 0);
        r.read_exact(&mut resp.body)?;
    } else {
        r.take(MAX_BODY_BYTES as u64).read_to_end(&mut resp.body)?;
        keep_alive = false;
    }
    Ok((resp, keep_alive))
}

fn read_chunked(r: &mut BufReader<TcpStream>, out: &mut Vec<u8>) -> io::Result<()> {
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let size = line.trim_end().split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| bad_data(format!("bad chunk size {:?}", line.trim_end())))?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                line.clear();
                if r.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                    return Ok(());
                }
            }
        }
        if out.len() + size > MAX_BODY_BYTES {
            return Err(bad_data("the response body is too large"));
        }
        let start = out.len();
        out.resize(start + size, 0);
        r.read_exact(&mut out[start..])?;
        line.clear();
        r.read_line(&mut line)?;
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    /// Serves the canned responses in order, one per request, on a loopback port; closes the
    /// connection after the ones marked so.
    fn serve(responses: Vec<(String, bool)>) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let mut requests = Vec::new();
            let mut responses = responses.into_iter();
            'accept: for stream in listener.incoming() {
                let mut r = BufReader::new(stream.unwrap());
                loop {
                    let mut head = String::new();
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap() == 0 {
                            continue 'accept;
                        }
                        head.push_str(&line);
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .map_or(0, |n| n.parse().unwrap());
                    let mut body = vec![0; len];
                    r.read_exact(&mut body).unwrap();
                    requests.push(format!("{head}{}", String::from_utf8(body).unwrap()));
                    let Some((resp, close)) = responses.next() else {
                        return requests;
                    };
                    r.get_mut().write_all(resp.as_bytes()).unwrap();
                    if responses.len() == 0 {
                        return requests;
                    }
                    if close {
                        continue 'accept;
                    }
                }
            }
            requests
        });
        (url, handle)
    }

    /// A response with a Content-Length.
    fn response(status: &str, headers: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    #[test]
    fn errors_carry_the_aws_name_status_and_request_id() {
        let (url, server) = serve(vec![
            (
                response(
                    "404 Not Found",
                    "x-amzn-ErrorType: ResourceNotFoundException:http://internal\r\n\
                     x-amzn-RequestId: r-1\r\n",
                    r#"{"__type":"ResourceNotFoundException","message":"no campaign"}"#,
                ),
                false,
            ),
            (
                response(
                    "400 Bad Request",
                    "",
                    r#"{"__type":"com.amazonaws.personalize#InvalidInputException","Message":"m"}"#,
                ),
                false,
            ),
        ]);
        let client = Client::new(&url).unwrap().with_api_key("k");
        let err = client
            .get_personalized_ranking("arn:c", "u", &["a"], None)
            .unwrap_err();
        let api = err.api().unwrap();
        assert_eq!(
            (api.status, api.kind(), api.message.as_str()),
            (404, ErrorKind::ResourceNotFound, "no campaign")
        );
        assert_eq!(api.request_id.as_deref(), Some("r-1"));
        let err = client
            .control("DescribeCampaign", &serde_json::json!({}))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(err.api().unwrap().message, "m");
        drop(client);
        let requests = server.join().unwrap();
        assert!(requests[0].starts_with("POST /personalize-ranking HTTP/1.1\r\n"));
        assert!(requests[0].contains("Authorization: Bearer k\r\n"));
        assert!(
            requests[0].ends_with(r#""inputList":["a"],"userId":"u"}"#),
            "{}",
            requests[0]
        );
        assert!(requests[1].contains("X-Amz-Target: AmazonPersonalize.DescribeCampaign\r\n"));
    }

    #[test]
    fn chunked_bodies_and_closed_idle_connections_are_handled() {
        let (url, server) = serve(vec![
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                 5\r\n{\"ite\r\n1b\r\nmList\":[],\"recommendationId\r\n6\r\n\":\"r\"}\r\n0\r\n\r\n"
                    .to_owned(),
                // The server closes this keep-alive connection after answering: the next call
                // finds it dead in the pool and retries on a new one.
                true,
            ),
            (response("200 OK", "", ""), false),
        ]);
        let client = Client::new(&url).unwrap();
        let resp = client
            .get_recommendations(&GetRecommendationsRequest {
                campaign_arn: Some("arn:c".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(resp.recommendation_id, "r");
        assert!(resp.item_list.is_empty());
        client.put_events(&PutEventsRequest::default()).unwrap();
        drop(client);
        assert_eq!(server.join().unwrap().len(), 2);
    }

    #[test]
    fn base_urls() {
        assert_eq!(
            Client::new("http://localhost").unwrap().base_url(),
            "http://localhost:80"
        );
        assert_eq!(
            Client::new("http://[::1]:9/p/").unwrap().url("/events"),
            "http://[::1]:9/p/events"
        );
        assert!(matches!(
            Client::new("https://x"),
            Err(ClientError::InvalidUrl(_))
        ));
        assert_eq!(
            clean_type("aws#ThrottlingException:x"),
            "ThrottlingException"
        );
    }
}
