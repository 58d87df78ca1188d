//! Attune's integration tests: one test binary, one module per area. Shared helpers (the
//! workspace root, the MovieLens data, the `attune` binary) live in the `tests` library.

mod architecture;
mod async_client;
mod cli;
mod crash;
mod events;
mod import;
mod opensearch;
mod opensearch_plugin;
mod opensearch_proxy;
mod rerank_service;
mod server;
mod server_events;
mod server_interrupted;
mod server_lifecycle;
mod server_ops;
mod server_runtime;
mod train;
