//! `attune serve`: runs the HTTP server on a data directory until SIGTERM or Ctrl-C.
//!
//! Flags override the config file (`--config FILE`, TOML, see `attune_server::config`). Once the
//! listener is bound, one line `listening on <addr>` goes to stdout (with `--listen
//! 127.0.0.1:0`, the real port); logs go to stderr.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use attune_server::config::RawProxyConfig;
use attune_server::{AppState, Config, RawConfig};
use clap::Args;
use tracing::warn;

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The data directory (the store); created when missing. Default: `data_dir` in the config
    /// file, else `attune-data`.
    #[arg(long, env = "ATTUNE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The address to listen on, `host:port` (default 127.0.0.1:8080: loopback only).
    #[arg(long)]
    listen: Option<String>,
    /// A TOML config file; flags override its keys.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Require this key on every request (`Authorization: Bearer <key>` or `x-api-key`).
    #[arg(long, env = "ATTUNE_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// The most connections served at once (default 1024).
    #[arg(long)]
    max_connections: Option<usize>,
    /// The largest request body in bytes (default 4 MiB).
    #[arg(long)]
    max_body_bytes: Option<usize>,
    /// The longest a request may take, in milliseconds (default 10000).
    #[arg(long)]
    request_timeout_ms: Option<u64>,
    /// How often campaigns are reloaded from the store, in milliseconds (default 2000).
    #[arg(long)]
    reload_interval_ms: Option<u64>,
    /// Users and sessions with real-time events kept per dataset group (default 100000).
    #[arg(long)]
    lru_capacity: Option<usize>,
    /// Runtime worker threads (default: one per core).
    #[arg(long)]
    worker_threads: Option<usize>,
    /// Turn on the search proxy: `GET`/`POST /{index}/_search` are forwarded to this OpenSearch
    /// cluster (http:// or https://) and their hits re-ranked when the search body carries
    /// `ext.personalize_request_parameters`.
    #[arg(long, value_name = "URL")]
    opensearch_url: Option<String>,
    /// The search proxy's campaign (name or ARN); `?personalize_campaign=` overrides it.
    #[arg(long, value_name = "CAMPAIGN")]
    proxy_campaign: Option<String>,
    /// The search proxy's weight of personalization, 0.0 to 1.0 (default 0.3);
    /// `?personalize_weight=` overrides it.
    #[arg(long, value_name = "WEIGHT")]
    proxy_weight: Option<String>,
    /// The `_source` field holding the item id (default `item_id`; `_id` for the document id);
    /// `?personalize_item_id_field=` overrides it.
    #[arg(long, value_name = "FIELD")]
    proxy_item_id_field: Option<String>,
}

impl ServeArgs {
    /// Serve `data_dir` with defaults for everything but the listen address (quickstart --serve).
    pub(crate) fn for_data_dir(data_dir: PathBuf, listen: Option<String>) -> ServeArgs {
        ServeArgs {
            data_dir: Some(data_dir),
            listen,
            config: None,
            api_key: None,
            max_connections: None,
            max_body_bytes: None,
            request_timeout_ms: None,
            reload_interval_ms: None,
            lru_capacity: None,
            worker_threads: None,
            opensearch_url: None,
            proxy_campaign: None,
            proxy_weight: None,
            proxy_item_id_field: None,
        }
    }

    /// The validated configuration: the file, then the flags over it.
    fn config(&self) -> Result<Config> {
        let file = match &self.config {
            Some(path) => RawConfig::from_file(path)?,
            None => RawConfig::default(),
        };
        let flags = RawConfig {
            data_dir: self.data_dir.clone(),
            listen: self.listen.clone(),
            api_key: self.api_key.clone(),
            max_connections: self.max_connections,
            max_body_bytes: self.max_body_bytes,
            request_timeout_ms: self.request_timeout_ms,
            reload_interval_ms: self.reload_interval_ms,
            lru_capacity: self.lru_capacity,
            worker_threads: self.worker_threads,
            opensearch_url: self.opensearch_url.clone(),
            proxy: (self.proxy_campaign.is_some()
                || self.proxy_weight.is_some()
                || self.proxy_item_id_field.is_some())
            .then(|| RawProxyConfig {
                campaign: self.proxy_campaign.clone(),
                weight: self.proxy_weight.clone().map(serde_json::Value::String),
                item_id_field: self.proxy_item_id_field.clone(),
            }),
            ..RawConfig::default()
        };
        let mut raw = file.merged(flags);
        if raw.data_dir.is_none() {
            raw.data_dir = Some(PathBuf::from("attune-data"));
        }
        Ok(Config::from_raw(raw)?)
    }
}

pub(crate) fn run(args: &ServeArgs) -> Result<()> {
    let config = args.config().context("invalid configuration")?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(n) = config.worker_threads {
        runtime.worker_threads(n);
    }
    let runtime = runtime.build().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener
            .local_addr()
            .context("the listener has no address")?;
        if !addr.ip().is_loopback() && config.api_key.is_none() {
            warn!(%addr, "listening beyond loopback without an API key: anyone who can reach \
                          this address can read and write data");
        }
        // Load the campaigns and rebuild the real-time state before saying we are ready.
        let state = tokio::task::spawn_blocking(move || -> Result<AppState> {
            let data_dir = config.data_dir.display().to_string();
            let state = AppState::open(config)
                .with_context(|| format!("cannot open the data directory {data_dir}"))?;
            state
                .reload_campaigns()
                .context("cannot load the campaigns")?;
            Ok(state)
        })
        .await
        .context("the startup task failed")??;
        let mut out = std::io::stdout();
        writeln!(out, "listening on {addr}")?;
        out.flush()?;
        attune_server::serve(listener, Arc::new(state), shutdown_signal())
            .await
            .context("the server failed")
    })
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
