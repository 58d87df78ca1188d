//! Attune's engine as a library.
//!
//! # Layout
//!
//! - [`schema`]: Personalize dataset schemas (Avro JSON) and every validation rule.
//! - [`record`]: values of one field: the CSV cell encoding and the value-level limits.
//! - [`store`]: the embedded store: a data directory with dataset groups, schemas, datasets,
//!   BULK segments and the PUT log, all written atomically.
//! - [`import`] (feature `import`): dataset import jobs from CSV and Avro files.
//! - [`events`]: individual records: event trackers, PutEvents, PutItems, PutUsers.
//! - [`generate`] (feature `import`): the deterministic synthetic data generator.
//! - [`insights`]: dataset statistics and data-quality findings.
//! - [`train`] (feature `train`): the interaction matrix, recipes and offline evaluation.
//! - [`model`]: trained models: the versioned artifact and inference (rank, similar, top-N).
//! - [`blend`]: the OpenSearch rank blend (one implementation for the endpoint and the proxy).
//! - [`arn`]: Personalize-style ARNs for local resources.
//! - [`api`]: wire DTOs of the runtime and events APIs, shared by the server and the client.
//! - `client` (feature `client`): a blocking HTTP client for an Attune server.
//! - [`error`]: the one [`Error`] type.
#![deny(missing_docs)]

pub mod api;
pub mod arn;
pub mod blend;
#[cfg(feature = "client")]
pub mod client;
pub mod error;
pub mod events;
#[cfg(feature = "import")]
pub mod generate;
#[cfg(feature = "import")]
pub mod import;
pub mod insights;
pub mod model;
pub mod progress;
pub mod record;
pub mod schema;
pub mod store;
#[cfg(feature = "train")]
pub mod train;

pub use error::{Error, ImportFailure, Result, RowError};
pub use schema::{DatasetType, Domain, Schema};
pub use store::{Dataset, ImportMode, Store};
