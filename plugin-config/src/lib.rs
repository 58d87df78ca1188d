//! OpenSearch-side configuration of Attune's `personalized_search_ranking` search response
//! processor.
//!
//! # Layout
//!
//! The crate holds the processor's type name now; the processor configuration (raw serde form
//! validated into a typed config) and the pipeline JSON arrive with the OpenSearch integration.
#![deny(missing_docs)]

/// The search response processor type, the same as Amazon's plugin so pipeline JSON from the
/// Personalize guide works unchanged.
pub const PROCESSOR_TYPE: &str = "personalized_search_ranking";
