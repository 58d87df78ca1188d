//! Data insights (`spec/data.md` 4.7): per-dataset statistics and the data-quality findings of
//! the table in 4.7, for the Interactions, Users and Items datasets of a dataset group.
//!
//! [`dataset_group_insights`] reads every stored record once (BULK and PUT partitions, through
//! [`Dataset::scan`](crate::Dataset::scan)) and keeps only per-column summaries and hashed
//! ids, never the rows. The computation itself is [`DatasetAnalyzer`] (fed one row at a time from
//! any source) and [`GroupInsights::from_analyzers`] (statistics and findings), so it can run
//! over rows that are not in a store.
//!
//! Counting rules:
//! - Distinct values are exact up to [`DISTINCT_CAP`] per column, then reported as
//!   `">100000"`. For a categorical column they count individual categories (the
//!   `|`-separated values).
//! - Duplicate rows are rows equal to an earlier row in every field. Above
//!   [`DUPLICATE_TRACKING_CAP`] rows the count is estimated from a hash-based sample (rows with
//!   equal values share a hash, so duplicates are sampled together) and marked as estimated.
//! - Outliers (D-22) lie beyond 1.5 × IQR from the quartiles of a numeric column. Quartiles come
//!   from a uniform sample of [`NUMERIC_SAMPLE`] values (exact below that); a column whose
//!   quartiles are equal has no outliers.
//! - Interaction statistics count rows of non-anonymous users (a USER_ID); sparsity is
//!   `1 - interactions / (unique users × unique items)`, at least 0.

mod analyze;
mod findings;
mod text;

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use crate::error::Result;
use crate::schema::DatasetType;
use crate::store::Store;

pub use analyze::DatasetAnalyzer;

/// Distinct values are counted exactly up to this many per column.
pub const DISTINCT_CAP: u64 = 100_000;
/// Row fingerprints kept for exact duplicate counting; beyond it the count is estimated.
pub const DUPLICATE_TRACKING_CAP: usize = 4_000_000;
/// Values sampled per numeric column for quartiles and outliers.
pub const NUMERIC_SAMPLE: usize = 65_536;

/// Statistics and findings for the datasets of a dataset group.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupInsights {
    /// The dataset group's name.
    pub dataset_group: String,
    /// One entry per analysed dataset that exists: Interactions, Users, Items, in that order.
    pub datasets: Vec<DatasetInsights>,
    /// Data-quality findings, errors first. Empty when the data meets every expectation.
    pub findings: Vec<Finding>,
}

/// Statistics of one dataset.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetInsights {
    /// `Interactions`, `Users` or `Items`.
    pub dataset_type: String,
    /// Stored records per partition.
    pub records: RecordCounts,
    /// Number of columns (schema fields).
    pub column_count: usize,
    /// Per-column statistics, in schema order.
    pub columns: Vec<ColumnStats>,
    /// Rows with at least one missing (null) value.
    pub rows_with_missing_values: u64,
    /// Rows equal to an earlier row in every field.
    pub duplicate_rows: u64,
    /// Whether `duplicate_rows` is estimated from a sample (very large datasets).
    pub duplicate_rows_estimated: bool,
    /// Users and Items: distinct USER_ID / ITEM_ID values (the records after upserts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unique_ids: Option<u64>,
    /// Interactions only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interactions: Option<InteractionStats>,
}

/// Record counts of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordCounts {
    /// Rows from import jobs (the BULK partition).
    pub bulk: u64,
    /// Rows from PutEvents, PutItems and PutUsers (the PUT partition).
    pub put: u64,
    /// Both.
    pub total: u64,
}

/// Statistics of one column.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnStats {
    /// The field name.
    pub name: String,
    /// The Avro type (`string`, `long`, ...).
    #[serde(rename = "type")]
    pub ty: String,
    /// `"categorical": true`.
    pub categorical: bool,
    /// `"textual": true`.
    pub textual: bool,
    /// Rows where the value is missing (null).
    pub missing: u64,
    /// `missing` as a percentage of the rows (0 for an empty dataset).
    pub missing_percent: f64,
    /// Distinct values (categories for a categorical column).
    pub distinct: DistinctCount,
    /// Smallest value of a numeric column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest value of a numeric column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Mean of a numeric column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    /// Percentage of a numeric column's values beyond 1.5 × IQR from the quartiles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outlier_percent: Option<f64>,
    /// Values (or categories) equal to a reserved keyword name such as `EVENT_TYPE` (D-5).
    pub reserved_keyword_values: u64,
}

/// A distinct count: exact, or "more than" once the cap is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistinctCount {
    /// Exactly this many.
    Exact(u64),
    /// More than this many (serialized as `">100000"`).
    MoreThan(u64),
}

impl DistinctCount {
    /// The count, or the cap when it was exceeded.
    pub fn at_least(self) -> u64 {
        match self {
            DistinctCount::Exact(n) | DistinctCount::MoreThan(n) => n,
        }
    }
}

impl std::fmt::Display for DistinctCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DistinctCount::Exact(n) => write!(f, "{n}"),
            DistinctCount::MoreThan(n) => write!(f, ">{n}"),
        }
    }
}

impl Serialize for DistinctCount {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            DistinctCount::Exact(n) => s.serialize_u64(*n),
            DistinctCount::MoreThan(_) => s.collect_str(self),
        }
    }
}

/// Statistics of an Interactions dataset.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InteractionStats {
    /// Interactions of non-anonymous users (rows with a USER_ID).
    pub interactions: u64,
    /// Rows without a USER_ID (anonymous sessions); not counted elsewhere.
    pub anonymous_interactions: u64,
    /// Distinct USER_ID values.
    pub unique_users: u64,
    /// Distinct ITEM_ID values.
    pub unique_items: u64,
    /// Users with two or more interactions.
    pub users_with_two_or_more_interactions: u64,
    /// Interactions per EVENT_TYPE (empty without an EVENT_TYPE column).
    pub event_types: BTreeMap<String, u64>,
    /// The smallest TIMESTAMP (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_timestamp: Option<i64>,
    /// The largest TIMESTAMP (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_timestamp: Option<i64>,
    /// `1 - interactions / (unique users × unique items)`, at least 0.
    pub sparsity: f64,
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Training will fail until it is fixed.
    Error,
    /// Recommendations will suffer.
    Warning,
    /// Worth knowing; no action strictly needed.
    Info,
}

impl Severity {
    /// `error`, `warning` or `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One data-quality finding and the recommended action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// How serious it is.
    pub severity: Severity,
    /// The dataset type it concerns (`Interactions`, `Users`, `Items`), or `DatasetGroup`.
    pub dataset: String,
    /// What was found, with the numbers.
    pub message: String,
    /// What to do about it.
    pub action: String,
}

/// The dataset types data insights cover (not Actions or Action_Interactions, spec 4.7).
pub const ANALYZED_TYPES: [DatasetType; 3] = [
    DatasetType::Interactions,
    DatasetType::Users,
    DatasetType::Items,
];

/// Computes statistics and findings for the Interactions, Users and Items datasets of `group`
/// (a name or ARN), reading every BULK and PUT record once.
pub fn dataset_group_insights(store: &Store, group: &str) -> Result<GroupInsights> {
    let group_info = store.dataset_group(group)?;
    let existing: Vec<DatasetType> = store
        .list_datasets(&group_info.name)?
        .iter()
        .filter_map(|d| DatasetType::parse(&d.dataset_type))
        .collect();
    let mut analyzers = Vec::new();
    for ty in ANALYZED_TYPES {
        if !existing.contains(&ty) {
            continue;
        }
        let dataset = store.dataset(&group_info.name, ty)?;
        let mut analyzer = DatasetAnalyzer::new(dataset.schema());
        dataset.scan(|origin, _, row| {
            analyzer.add(origin, row);
            Ok(())
        })?;
        analyzers.push(analyzer);
    }
    Ok(GroupInsights::from_analyzers(&group_info.name, analyzers))
}

impl GroupInsights {
    /// Finishes the analyzers of a group's datasets (at most one per type) and derives the
    /// findings, including those that compare datasets (items and users without interactions).
    pub fn from_analyzers(group: &str, analyzers: Vec<DatasetAnalyzer>) -> GroupInsights {
        let mut analyzers = analyzers;
        analyzers.sort_by_key(|a| {
            ANALYZED_TYPES
                .iter()
                .position(|t| *t == a.dataset_type())
                .unwrap_or(ANALYZED_TYPES.len())
        });
        let finished: Vec<analyze::Finished> =
            analyzers.into_iter().map(DatasetAnalyzer::finish).collect();
        let findings = findings::findings(&finished);
        let datasets = finished.into_iter().map(|f| f.insights).collect();
        GroupInsights {
            dataset_group: group.to_owned(),
            datasets,
            findings,
        }
    }

    /// The insights of a dataset type, when the group has that dataset.
    pub fn dataset(&self, ty: DatasetType) -> Option<&DatasetInsights> {
        self.datasets.iter().find(|d| d.dataset_type == ty.as_str())
    }

    /// Whether any finding is an error (model training would fail).
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

#[cfg(test)]
mod tests;
