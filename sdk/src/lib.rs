//! Attune's engine as a library: Amazon Personalize's datasets, import jobs, training, campaigns
//! and inference, on one data directory, in your process.
//!
//! A Rust service uses Attune in one of three ways:
//!
//! - **in process**: open the [`Store`], load a campaign's [`Model`](model::Model) and rank or
//!   find similar items with no network hop ([in process](#in-process));
//! - **against a server** (`attune serve`): the `client` module (features `client`, blocking,
//!   and `async-client`, tokio) speaks the Personalize runtime, events and control-plane APIs
//!   ([against a server](#against-a-server));
//! - **import and training**: the same calls the `attune` command makes, from Rust
//!   ([import and training](#import-and-training)).
//!
//! The examples below run as doctests on a small synthetic dataset; a hidden line builds it with
//! the calls of [import and training](#import-and-training) (`sdk/doctest/setup.rs`).
//!
//! # In process
//!
//! Open the data directory, resolve what a campaign serves and load that model once; every
//! call on it is in-memory and cheap to share (`Arc<Model>`). Real-time events are recorded
//! durably with an [`events::Recorder`] (training sees them next time) and passed to the model
//! as `(item id, weight)` so the ranking reflects them at once.
//!
//! ```
//! # mod setup { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/doctest/setup.rs")); }
//! # let (_tmp, store) = setup::trained_store();
//! # let dir = store.root().to_owned();
//! use attune::api::{Event, PutEventsRequest};
//! use attune::events::Recorder;
//! use attune::Store;
//!
//! let store = Store::open(&dir)?;
//! let campaign = store.campaign("shop-ranking")?;
//! let model = store.load_model(&store.campaign_model_version(&campaign)?)?;
//!
//! // The user just clicked i7: record it (PutEvents) and rank with it.
//! let tracker = store.event_tracker_of_group("shop")?.expect("the group has a tracker");
//! Recorder::new(store.clone()).put_events(&PutEventsRequest {
//!     tracking_id: tracker.tracking_id,
//!     session_id: "session-1".into(),
//!     user_id: Some("u1".into()),
//!     event_list: vec![Event {
//!         event_type: "click".into(),
//!         item_id: Some("i7".into()),
//!         sent_at: 1_700_000_000.0,
//!         ..Event::default()
//!     }],
//! })?;
//! let recent = [("i7", model.event_weight("click"))];
//!
//! // GetPersonalizedRanking: best first, softmax scores; unknown ids last without a score.
//! let input = ["i3", "i12", "i40", "no-such-item"];
//! let ranked = model.rank("u1", &recent, &input);
//! assert_eq!(ranked.len(), 4);
//! assert_eq!(input[ranked[3].input_index], "no-such-item");
//! assert_eq!(ranked[3].score, None);
//!
//! // GetRecommendations on a Similar-Items campaign: items like i7.
//! let similar = store.load_model(
//!     &store.campaign_model_version(&store.campaign("shop-similar")?)?,
//! )?;
//! let like_i7: Vec<&str> = similar
//!     .similar("i7", 5)
//!     .into_iter()
//!     .map(|i| similar.item_id(i))
//!     .collect();
//! assert_eq!(like_i7.len(), 5);
//! assert!(!like_i7.contains(&"i7"));
//! # Ok::<(), attune::Error>(())
//! ```
//!
//! A long-running service keeps the model in an `Arc` and swaps in a new one when the campaign
//! changes (polling [`Store::campaign`] off the request path), so requests in flight finish on
//! the model they started with: `sdk/examples/rerank_service.rs` is such a service.
//!
//! # Against a server
//!
//! `attune serve` speaks the Personalize APIs; the client sends its API key
//! (`attune serve --api-key KEY`) as `Authorization: Bearer KEY`. API errors keep their AWS name
//! (`ClientError::kind`) and convert into [`Error`] with `?`.
//!
//! ```
//! # mod setup { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/doctest/setup.rs")); }
//! # let (_tmp, store) = setup::trained_store();
//! # let (url, _server) = setup::serve(&store, "secret-key");
//! use attune::client::{Client, ErrorKind};
//!
//! let client = Client::new(&url)?.with_api_key("secret-key");
//! let campaign = "arn:aws:personalize:local:000000000000:campaign/shop-ranking";
//! let ranking = client.get_personalized_ranking(campaign, "u1", &["i3", "i12", "i40"], None)?;
//! assert_eq!(ranking.personalized_ranking.len(), 3);
//!
//! // A wrong key is AccessDenied; a missing campaign is ResourceNotFound.
//! let stranger = Client::new(&url)?.with_api_key("wrong");
//! let denied = stranger.get_personalized_ranking(campaign, "u1", &["i3"], None);
//! assert_eq!(denied.unwrap_err().kind(), ErrorKind::AccessDenied);
//! let none = campaign.replace("shop-ranking", "none");
//! let missing = client.get_personalized_ranking(&none, "u1", &["i3"], None);
//! assert_eq!(missing.unwrap_err().kind(), ErrorKind::ResourceNotFound);
//! # Ok::<(), attune::Error>(())
//! ```
//!
//! # Import and training
//!
//! The control plane as methods of [`Store`]: a dataset group, a schema and a dataset, a bulk
//! import job ([`Dataset::import`]), a solution and a trained version
//! ([`train::create_solution_version`]), then a campaign that `attune serve` (or your service)
//! picks up.
//!
//! ```
//! # mod setup { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/doctest/setup.rs")); }
//! # let (tmp, csv) = setup::files();
//! # let (dir, interactions_csv) = (tmp.path().join("data"), csv.interactions_csv.clone());
//! # let interactions_schema = std::fs::read_to_string(&csv.interactions_schema).unwrap();
//! use std::sync::atomic::AtomicBool;
//!
//! use attune::import::{ImportRequest, NoProgress};
//! use attune::model::Recipe;
//! use attune::store::solutions::SolutionConfig;
//! use attune::train::{create_solution_version, TrainOptions};
//! use attune::{DatasetType, ImportMode, Store};
//!
//! let store = Store::open(&dir)?;
//! store.create_dataset_group("shop", None)?;
//! let name = "shop-interactions"; // the schema's and the dataset's
//! store.create_schema(name, &interactions_schema, None)?;
//! store.create_dataset("shop", DatasetType::Interactions, name, name)?;
//! let job = store.dataset("shop", DatasetType::Interactions)?.import(
//!     &ImportRequest {
//!         job_name: "initial".into(),
//!         data_location: interactions_csv.display().to_string(), // CSV, Avro or a folder
//!         mode: ImportMode::Full,
//!     },
//!     &NoProgress,
//! )?;
//! assert_eq!(job.status, "ACTIVE");
//!
//! let mut config = SolutionConfig::default();
//! config.algorithm_hyper_parameters.insert("factors".into(), "16".into());
//! store.create_solution("ranking", "shop", Recipe::PersonalizedRanking, None, config)?;
//! let options = TrainOptions::default(); // evaluates on a held-out split first
//! let cancel = AtomicBool::new(false); // set it from another thread to stop training
//! let version = create_solution_version(&store, "ranking", &options, &NoProgress, &cancel)?;
//! let metrics = store.solution_metrics(&version.solution_version_arn)?;
//! assert!(metrics.contains_key("normalized_discounted_cumulative_gain_at_10"));
//!
//! store.create_campaign("shop-ranking", &version.solution_version_arn, None, Default::default())?;
//! # Ok::<(), attune::Error>(())
//! ```
//!
//! A bad row fails the whole job with [`Error::Import`], naming the file, line and column;
//! nothing is written.
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
//! - `client` (features `client` and `async-client`): blocking and async HTTP clients for an
//!   Attune server.
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
