//! OpenSearch-side configuration of Attune's `personalized_search_ranking` search response
//! processor, and the JSON a user puts into OpenSearch.
//!
//! # Layout
//!
//! - [`processor`]: the processor's configuration: [`RawProcessorConfig`] (the pipeline JSON as
//!   written, fields exactly those of Amazon's processor) validated by
//!   [`ProcessorConfig::from_raw`] into a typed [`ProcessorConfig`], with the Java side's rules
//!   and messages (`spec/opensearch.md` 2.2) plus Attune's fixes (2.6); [`weight_from_value`]
//!   for the weight alone; [`processors_in_pipeline`] for a whole pipeline body.
//! - [`request`]: the search request extension `ext.personalize_request_parameters`
//!   ([`RawRequestParameters`] -> [`RequestParameters`]).
//! - [`error`]: [`ConfigError`], whose message is the one OpenSearch shows.
//! - [`stock`]: the stock-OpenSearch route (ML Commons connector, `ml_inference` response
//!   processor, `rerank` by_field; OpenSearch >= 2.19): its JSON and what ML Commons sends and
//!   expects back.
//! - [`files`]: every shipped JSON file (`pipelines/`, `recipes/`), embedded.
//!
//! Java's messages come from `org.opensearch.ingest.ConfigurationUtils` (`[property] reason`):
//! `[campaign_arn] required property is missing`, `[weight] property cannot be converted to a
//! double [abc]`, `[weight] invalid value for weight...`, and so on; where Attune is stricter or
//! more helpful the message keeps Java's text as its prefix.
#![deny(missing_docs)]

pub mod error;
mod java;
pub mod processor;
pub mod request;
pub mod stock;

pub use error::ConfigError;
pub use processor::{
    processors_in_pipeline, weight_from_value, ItemIdField, ProcessorConfig, RawProcessorConfig,
    Recipe,
};
pub use request::{RawRequestParameters, RequestParameters};

/// The search response processor type, the same as Amazon's plugin so pipeline JSON from the
/// Personalize guide works unchanged.
pub const PROCESSOR_TYPE: &str = "personalized_search_ranking";

/// The name of the search request extension carrying the user and context
/// (`ext.personalize_request_parameters`).
pub const REQUEST_EXT: &str = "personalize_request_parameters";

/// The shipped JSON files, embedded (paths relative to the crate).
pub mod files {
    /// `pipelines/personalized-search-ranking.json`: the body of
    /// `PUT /_search/pipeline/<name>` with the drop-in `personalized_search_ranking` processor,
    /// as in the Personalize guide.
    pub const PIPELINE: &str = include_str!("../pipelines/personalized-search-ranking.json");
    /// `pipelines/search-request.json`: a search body with `ext.personalize_request_parameters`.
    pub const SEARCH_REQUEST: &str = include_str!("../pipelines/search-request.json");
    /// `pipelines/index-template-demo-catalog.json`: the body of
    /// `PUT /_index_template/<name>` for the demo catalog (`demo-catalog*` indices).
    pub const INDEX_TEMPLATE: &str = include_str!("../pipelines/index-template-demo-catalog.json");
    /// `recipes/stock-ml-inference/cluster-settings.json`: `PUT /_cluster/settings`.
    pub const STOCK_CLUSTER_SETTINGS: &str =
        include_str!("../recipes/stock-ml-inference/cluster-settings.json");
    /// `recipes/stock-ml-inference/connector.json`: `POST /_plugins/_ml/connectors/_create`.
    pub const STOCK_CONNECTOR: &str = include_str!("../recipes/stock-ml-inference/connector.json");
    /// `recipes/stock-ml-inference/model.json`:
    /// `POST /_plugins/_ml/models/_register?deploy=true`.
    pub const STOCK_MODEL: &str = include_str!("../recipes/stock-ml-inference/model.json");
    /// `recipes/stock-ml-inference/pipeline.json`: `PUT /_search/pipeline/<name>`.
    pub const STOCK_PIPELINE: &str = include_str!("../recipes/stock-ml-inference/pipeline.json");
    /// `recipes/stock-ml-inference/search-request.json`: a search body with
    /// `ext.ml_inference.user_id`.
    pub const STOCK_SEARCH_REQUEST: &str =
        include_str!("../recipes/stock-ml-inference/search-request.json");

    /// Every file above: (path relative to the crate, contents).
    pub const ALL: [(&str, &str); 8] = [
        ("pipelines/personalized-search-ranking.json", PIPELINE),
        ("pipelines/search-request.json", SEARCH_REQUEST),
        ("pipelines/index-template-demo-catalog.json", INDEX_TEMPLATE),
        (
            "recipes/stock-ml-inference/cluster-settings.json",
            STOCK_CLUSTER_SETTINGS,
        ),
        ("recipes/stock-ml-inference/connector.json", STOCK_CONNECTOR),
        ("recipes/stock-ml-inference/model.json", STOCK_MODEL),
        ("recipes/stock-ml-inference/pipeline.json", STOCK_PIPELINE),
        (
            "recipes/stock-ml-inference/search-request.json",
            STOCK_SEARCH_REQUEST,
        ),
    ];
}

#[cfg(test)]
mod tests;
