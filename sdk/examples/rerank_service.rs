//! A small ranking service: holds one campaign's model in process, re-ranks each request's
//! items for its user, and follows campaign updates without a restart.
//!
//! ```sh
//! cargo run --release -p attune --example rerank_service -- \
//!     --data-dir attune-data --campaign shop-ranking [--listen 127.0.0.1:8090] [--poll-ms 500] \
//!     [--threads N]
//! ```
//!
//! It speaks GetPersonalizedRanking's wire shape (`POST /personalize-ranking`, the types of
//! `attune::api`), so the Personalize clients and `attune::client` call it as they call
//! `attune serve`; `GET /health` answers the version served. Every ranking response names the
//! solution version that ranked it in `x-attune-solution-version`.
//!
//! The hot-swap rule is the server's: a request clones the `Arc` of the live model under a
//! short read lock and ranks with it, so a request in flight finishes on the model it started
//! with; a watcher thread (off the request path: it reads the store) polls the campaign and,
//! when it serves another version, loads that model and swaps the whole `Arc` in. A version
//! that fails to load is logged and the old one stays. Filters and metadata columns are not
//! supported here and are refused; `context` is accepted and unused, as by the server.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use attune::api::{GetPersonalizedRankingRequest, GetPersonalizedRankingResponse, PredictedItem};
use attune::model::Model;
use attune::store::campaigns::campaign_arn;
use attune::Store;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The largest request body read.
const MAX_BODY_BYTES: usize = 1 << 20;

/// What the service serves: a solution version's model.
struct Live {
    version: String,
    model: Arc<Model>,
}

struct Service {
    /// The campaign's ARN: requests must name it.
    campaign_arn: String,
    live: RwLock<Arc<Live>>,
    requests: AtomicU64,
}

impl Service {
    /// The model now, for one request (the lock is held only to clone the `Arc`).
    fn live(&self) -> Arc<Live> {
        self.live
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn rank(&self, body: &[u8]) -> Response<Full<Bytes>> {
        let req: GetPersonalizedRankingRequest = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(e) => return error(StatusCode::BAD_REQUEST, "InvalidInputException", e),
        };
        if let Err(e) = req.validate() {
            return error(StatusCode::BAD_REQUEST, "InvalidInputException", e);
        }
        for (given, member) in [
            (req.filter_arn.is_some(), "filterArn"),
            (req.filter_values.is_some(), "filterValues"),
            (req.metadata_columns.is_some(), "metadataColumns"),
        ] {
            if given {
                let msg = format!("{member}: not supported by this service (use attune serve)");
                return error(StatusCode::BAD_REQUEST, "InvalidInputException", msg);
            }
        }
        if req.campaign_arn != self.campaign_arn {
            let msg = format!(
                "campaignArn: {} is not served here (this service serves {})",
                req.campaign_arn, self.campaign_arn
            );
            return error(StatusCode::NOT_FOUND, "ResourceNotFoundException", msg);
        }
        let live = self.live();
        let ranked = live.model.rank(&req.user_id, &[], &req.input_list);
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        let response = GetPersonalizedRankingResponse {
            personalized_ranking: ranked
                .into_iter()
                .map(|r| PredictedItem {
                    item_id: req.input_list[r.input_index].clone(),
                    score: r.score,
                    ..PredictedItem::default()
                })
                .collect(),
            recommendation_id: format!("RID-{:08x}-{n:016x}", std::process::id()),
        };
        let mut resp = json(StatusCode::OK, &response);
        if let Ok(v) = live.version.parse() {
            resp.headers_mut().insert("x-attune-solution-version", v);
        }
        resp
    }
}

fn json<T: serde::Serialize>(status: StatusCode, body: &T) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(
        serde_json::to_vec(body).unwrap_or_default(),
    )));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    resp
}

/// An AWS-shaped error: the name in `x-amzn-ErrorType` and `__type`, and the message.
fn error(status: StatusCode, name: &str, message: impl ToString) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "__type": name, "message": message.to_string() });
    let mut resp = json(status, &body);
    resp.headers_mut()
        .insert("x-amzn-ErrorType", name.parse().unwrap());
    resp
}

async fn handle(
    svc: Arc<Service>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(match (req.method(), req.uri().path()) {
        (&Method::GET, "/health") => json(
            StatusCode::OK,
            &serde_json::json!({ "status": "ok", "solutionVersionArn": svc.live().version }),
        ),
        (&Method::POST, "/personalize-ranking") => {
            match Limited::new(req.into_body(), MAX_BODY_BYTES)
                .collect()
                .await
            {
                Ok(body) => svc.rank(&body.to_bytes()),
                Err(e) => error(
                    StatusCode::BAD_REQUEST,
                    "InvalidInputException",
                    format!("cannot read the request body: {e}"),
                ),
            }
        }
        (_, path) => error(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            format!("no route {} {path}", req.method()),
        ),
    })
}

/// The version the campaign serves now (`$LATEST` resolved). BLOCKING: reads the store.
fn served_version(store: &Store, campaign: &str) -> attune::Result<String> {
    store.campaign_model_version(&store.campaign(campaign)?)
}

/// Polls the campaign and swaps in the model of a new version. Runs on its own thread.
fn follow(store: Store, campaign: String, svc: Arc<Service>, every: Duration) {
    loop {
        std::thread::sleep(every);
        let version = match served_version(&store, &campaign) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("campaign {campaign}: {e}; still serving the old version");
                continue;
            }
        };
        if version == svc.live().version {
            continue;
        }
        match store.load_model(&version) {
            Ok(model) => {
                let live = Arc::new(Live {
                    version: version.clone(),
                    model: Arc::new(model),
                });
                *svc.live.write().unwrap_or_else(PoisonError::into_inner) = live;
                eprintln!("serving {version}");
            }
            Err(e) => eprintln!("cannot load {version}: {e}; still serving the old version"),
        }
    }
}

struct Args {
    data_dir: PathBuf,
    campaign: String,
    listen: SocketAddr,
    poll: Duration,
    threads: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        data_dir: PathBuf::new(),
        campaign: String::new(),
        listen: "127.0.0.1:8090".parse().unwrap(),
        poll: Duration::from_millis(500),
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--data-dir" => args.data_dir = value()?.into(),
            "--campaign" => args.campaign = value()?,
            "--listen" => args.listen = value()?.parse().map_err(|e| format!("--listen: {e}"))?,
            "--poll-ms" => {
                let ms: u64 = value()?.parse().map_err(|e| format!("--poll-ms: {e}"))?;
                args.poll = Duration::from_millis(ms.max(1));
            }
            "--threads" => {
                let n: usize = value()?.parse().map_err(|e| format!("--threads: {e}"))?;
                args.threads = n.max(1);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.data_dir.as_os_str().is_empty() || args.campaign.is_empty() {
        return Err(
            "usage: rerank_service --data-dir DIR --campaign NAME [--listen ADDR] \
                    [--poll-ms MS] [--threads N]"
                .into(),
        );
    }
    Ok(args)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let store = Store::open(&args.data_dir)?;
    // The first model loads before the service listens.
    let campaign = store.campaign(&args.campaign)?;
    let version = served_version(&store, &args.campaign)?;
    let model = store.load_model(&version)?;
    eprintln!("serving {version}");
    let svc = Arc::new(Service {
        campaign_arn: campaign_arn(&campaign.name),
        live: RwLock::new(Arc::new(Live {
            version,
            model: Arc::new(model),
        })),
        requests: AtomicU64::new(0),
    });
    {
        let (store, name, svc) = (store.clone(), args.campaign.clone(), svc.clone());
        std::thread::spawn(move || follow(store, name, svc, args.poll));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(args.listen).await?;
        println!("listening on http://{}", listener.local_addr()?);
        loop {
            let (stream, _) = tokio::select! {
                accepted = listener.accept() => accepted?,
                _ = tokio::signal::ctrl_c() => return Ok(()),
            };
            stream.set_nodelay(true)?;
            let svc = svc.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| handle(svc.clone(), req));
                // A connection error (a client gone mid-request) concerns that connection only.
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
