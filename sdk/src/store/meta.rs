//! The store's metadata files. Their JSON uses the Personalize API's field names (camelCase), so
//! the server can return them as the Describe* shapes.

use std::fmt;

use serde::{Deserialize, Serialize};

pub(super) const FORMAT_NAME: &str = "attune-store";

/// `attune-store.json`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct FormatFile {
    pub format: String,
    pub version: u32,
}

/// The status of a stored resource or job, as Personalize names it (`"CREATE IN_PROGRESS"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Status {
    /// Ready (a resource), or finished successfully (a job).
    #[serde(rename = "ACTIVE")]
    Active,
    /// Recorded, not started.
    #[serde(rename = "CREATE PENDING")]
    CreatePending,
    /// A process is working on it.
    #[serde(rename = "CREATE IN_PROGRESS")]
    CreateInProgress,
    /// Asked to stop, still running (the server's view of a training being stopped).
    #[serde(rename = "CREATE STOPPING")]
    CreateStopping,
    /// Stopped on request before it finished.
    #[serde(rename = "CREATE STOPPED")]
    CreateStopped,
    /// Failed; the record's failure reason says why.
    #[serde(rename = "CREATE FAILED")]
    CreateFailed,
}

impl Status {
    /// The name on the wire and on disk (`"CREATE IN_PROGRESS"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "ACTIVE",
            Status::CreatePending => "CREATE PENDING",
            Status::CreateInProgress => "CREATE IN_PROGRESS",
            Status::CreateStopping => "CREATE STOPPING",
            Status::CreateStopped => "CREATE STOPPED",
            Status::CreateFailed => "CREATE FAILED",
        }
    }

    /// Whether a process is (or should be) working on it: pending, in progress or stopping.
    pub fn is_in_progress(self) -> bool {
        matches!(
            self,
            Status::CreatePending | Status::CreateInProgress | Status::CreateStopping
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Status {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Status {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A schema (DescribeSchema's `schema` object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaInfo {
    /// The schema name.
    pub name: String,
    /// Its ARN.
    pub schema_arn: String,
    /// `ECOMMERCE` or `VIDEO_ON_DEMAND` for a domain schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The Avro JSON document, verbatim.
    pub schema: String,
    /// Unix seconds.
    pub creation_date_time: f64,
    /// Unix seconds.
    pub last_updated_date_time: f64,
}

/// A dataset group (DescribeDatasetGroup's `datasetGroup` object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetGroupInfo {
    /// The group name.
    pub name: String,
    /// Its ARN.
    pub dataset_group_arn: String,
    /// The domain of a domain dataset group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// `ACTIVE` once created.
    pub status: Status,
    /// Unix seconds.
    pub creation_date_time: f64,
    /// Unix seconds.
    pub last_updated_date_time: f64,
}

/// A dataset (DescribeDataset's `dataset` object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetInfo {
    /// The dataset name.
    pub name: String,
    /// Its ARN (`.../dataset/GROUP/INTERACTIONS`).
    pub dataset_arn: String,
    /// The group's ARN.
    pub dataset_group_arn: String,
    /// `Interactions`, `Users`, `Items`, `Actions` or `Action_Interactions`.
    pub dataset_type: String,
    /// The schema's ARN.
    pub schema_arn: String,
    /// `ACTIVE` once created.
    pub status: Status,
    /// Unix seconds.
    pub creation_date_time: f64,
    /// Unix seconds.
    pub last_updated_date_time: f64,
}

/// FULL replaces a dataset's bulk records; INCREMENTAL appends and upserts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ImportMode {
    /// Replace all bulk records (never individually imported ones).
    Full,
    /// Append; same-id Items/Users records replace older ones in the effective view.
    Incremental,
}

impl ImportMode {
    /// Parses `FULL` or `INCREMENTAL`, case-insensitively.
    pub fn parse(s: &str) -> Option<ImportMode> {
        if s.eq_ignore_ascii_case("full") {
            Some(ImportMode::Full)
        } else if s.eq_ignore_ascii_case("incremental") {
            Some(ImportMode::Incremental)
        } else {
            None
        }
    }

    /// `FULL` or `INCREMENTAL`.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportMode::Full => "FULL",
            ImportMode::Incremental => "INCREMENTAL",
        }
    }
}

/// A dataset import job (DescribeDatasetImportJob's `datasetImportJob` object, plus counts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportJobInfo {
    /// The job name.
    pub job_name: String,
    /// Its ARN.
    pub dataset_import_job_arn: String,
    /// The dataset imported into.
    pub dataset_arn: String,
    /// The source file or folder.
    pub data_location: String,
    /// FULL or INCREMENTAL.
    pub import_mode: ImportMode,
    /// `CREATE PENDING`, `CREATE IN_PROGRESS`, `ACTIVE` or `CREATE FAILED`.
    pub status: Status,
    /// Why the job failed, with the first error's file, line and column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// Rows imported (0 unless ACTIVE).
    #[serde(default)]
    pub rows_imported: u64,
    /// Rows with an error.
    #[serde(default)]
    pub bad_rows: u64,
    /// Unix seconds.
    pub creation_date_time: f64,
    /// Unix seconds.
    pub last_updated_date_time: f64,
}

/// One Avro segment of a dataset's BULK partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// File name inside `bulk/`.
    pub file: String,
    /// Records in it.
    pub rows: u64,
    /// Ingestion sequence number of its records.
    pub seq: u64,
}

/// `bulk/MANIFEST.json`: the segments that make up the BULK partition.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Manifest {
    pub segments: Vec<Segment>,
}

/// An event tracker (DescribeEventTracker's `eventTracker` object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventTrackerInfo {
    /// The tracker name.
    pub name: String,
    /// Its ARN.
    pub event_tracker_arn: String,
    /// The dataset group it feeds.
    pub dataset_group_arn: String,
    /// The id PutEvents calls carry.
    pub tracking_id: String,
    /// Always `000000000000` locally.
    pub account_id: String,
    /// `ACTIVE` once created.
    pub status: Status,
    /// Unix seconds.
    pub creation_date_time: f64,
    /// Unix seconds.
    pub last_updated_date_time: f64,
}
