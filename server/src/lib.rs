//! Attune's server as a library: the Personalize-compatible HTTP APIs over one listener.
//!
//! # Layout
//!
//! - [`run`] opens the store, loads the campaigns and serves a bound listener until a shutdown
//!   future completes; [`serve`] does the serving for an already opened [`AppState`]; [`app`] is
//!   the per-request service (for tests that call it in-process).
//! - Layers, read top-down, each importing only from those below it:
//!   - [`router`]: routing by `X-Amz-Target` or path, the API key, limits, one span per
//!     request;
//!   - the handlers, which never import each other: [`runtime`] the runtime API, [`events`] the
//!     events API, [`control`] the control plane, [`rerank`] the OpenSearch re-rank endpoints,
//!     [`proxy`] the search proxy in front of OpenSearch;
//!   - [`ranking`]: what the handlers share (campaign lookup, the `context` check, recent
//!     events, the blend of hits);
//!   - [`state`]: [`AppState`], everything requests share: the store, the event recorder, the
//!     live campaigns (models swapped atomically), per-dataset-group real-time caches
//!     ([`realtime`]) and item catalogs ([`catalog`]), the [`metrics`], the search proxy's
//!     OpenSearch client ([`upstream`]) and the [`config`] ([`RawConfig`] validated into
//!     [`Config`]);
//!   - [`http`]: the ground: AWS-shaped errors and the request-body helpers.
//!
//! Connections are capped by a semaphore (`max_connections`), each request by a body limit
//! (`max_body_bytes`) and a timeout (`request_timeout_ms`). On shutdown the listener closes,
//! connections finish their requests in flight (up to `shutdown_grace_ms`) and `run` returns.

// Layers, each importing only from those below it: the router; the handlers, which never
// import each other; the ranking services they share; the state and its parts; the ground.
pub mod router;

pub mod control;
pub mod events;
pub mod proxy;
pub mod rerank;
pub mod runtime;

pub mod ranking;

pub mod catalog;
pub mod config;
pub mod metrics;
pub mod realtime;
pub mod state;
pub mod upstream;

pub mod http;
mod sync;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::{debug, info, warn};

pub use config::{Config, RawConfig};
pub use state::AppState;

/// Opens the store of `config`, loads its campaigns and rebuilds the real-time state from the
/// event log (on the blocking pool, before accepting), then serves `listener` until `shutdown`
/// completes.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let state = tokio::task::spawn_blocking(move || -> Result<AppState, attune::Error> {
        let state = AppState::open(config)?;
        state.reload_campaigns()?;
        Ok(state)
    })
    .await
    .map_err(std::io::Error::other)?
    .map_err(std::io::Error::other)?;
    serve(listener, Arc::new(state), shutdown).await
}

/// The service answering one connection's requests.
pub fn app<B>(
    state: Arc<AppState>,
) -> impl hyper::service::Service<
    Request<B>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send,
> + Clone
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    service_fn(move |req: Request<B>| {
        let state = Arc::clone(&state);
        async move { Ok::<_, Infallible>(router::handle(state, req).await) }
    })
}

/// Serves `listener` with an opened state until `shutdown` completes; campaigns are reconciled
/// with the store every `reload_interval` meanwhile.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let config = state.config().clone();
    let reloader = tokio::spawn(reload_loop(Arc::clone(&state)));
    let connections = Arc::new(Semaphore::new(config.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.request_timeout)
        .keep_alive(true);
    builder.http2().max_concurrent_streams(256);
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "serving");
    }
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = Arc::clone(&connections).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    warn!(cause = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let conn = builder
            .serve_connection(TokioIo::new(stream), app(Arc::clone(&state)))
            .into_owned();
        let conn = graceful.watch(conn);
        let state = Arc::clone(&state);
        state.metrics().connection(true);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                debug!(%peer, cause = %e, "connection ended with an error");
            }
            state.metrics().connection(false);
            drop(permit);
        });
    }
    drop(listener);
    info!("shutting down: waiting for connections to finish");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(config.shutdown_grace) => {
            warn!(grace_ms = config.shutdown_grace.as_millis() as u64,
                  "connections still open after the shutdown grace period");
        }
    }
    reloader.abort();
    Ok(())
}

/// Reconciles campaigns every `reload_interval`, on the blocking pool.
async fn reload_loop(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(state.config().reload_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let s = Arc::clone(&state);
        match tokio::task::spawn_blocking(move || s.reload_campaigns()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(cause = %e, "campaign reload failed"),
            Err(e) => warn!(cause = %e, "campaign reload task failed"),
        }
    }
}

#[cfg(test)]
mod tests;
