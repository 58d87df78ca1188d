//! Attune's integration tests: one test binary, one module per area. Shared helpers (the
//! workspace root, the MovieLens data, the `attune` binary) live in the `tests` library.

mod cli;
mod crash;
mod events;
mod import;
mod train;
