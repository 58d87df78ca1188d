//! The embedded store: one data directory holding dataset groups, schemas, datasets and their
//! records (`DESIGN.md` "Store").
//!
//! ```text
//! <root>/attune-store.json                       format name and version
//! <root>/schemas/<name>.json                     CreateSchema documents
//! <root>/groups/<group>/group.json               the dataset group
//! <root>/groups/<group>/event-tracker.json       its event tracker, when created
//! <root>/groups/<group>/datasets/<Type>/
//!     dataset.json  schema.avsc                  the dataset and its schema
//!     bulk/MANIFEST.json  bulk/seg-<seq>.avro    BULK partition: Avro container segments
//!     put/log.avro                               PUT partition: the append-only log
//!     import-jobs/<job>.json                     import jobs (and <job>.errors.txt)
//! ```
//!
//! Every file is replaced atomically (temporary file, fsync, rename, fsync of the directory),
//! so a crash leaves the previous state readable. A FULL import writes its segment, then swaps
//! the manifest; segments no manifest names are garbage and are removed on the next write.

pub mod campaigns;
pub mod effective;
pub(crate) mod fsutil;
pub mod log;
mod meta;
pub(crate) mod running;
pub mod solutions;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use apache_avro::types::Value;

use crate::arn;
use crate::error::{invalid, Error, Result};
use crate::record::from_avro_field;
use crate::schema::{DatasetType, Domain, Schema};

pub use meta::{
    DatasetGroupInfo, DatasetInfo, EventTrackerInfo, ImportJobInfo, ImportMode, SchemaInfo,
    Segment, Status,
};
use running::JobRecord;
#[cfg(feature = "import")]
use running::RunningJob;

/// The store format this build reads and writes. Bump it on any incompatible layout change
/// and keep a frozen copy of the old layout under `tests/fixtures/store/v{N}`.
pub const FORMAT_VERSION: u32 = 1;

const FORMAT_FILE: &str = "attune-store.json";

/// Where a stored record came from (spec 4.3): bulk import or an individual Put* call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// A dataset import job; FULL imports replace these.
    Bulk,
    /// PutEvents, PutItems or PutUsers; never replaced by an import.
    Put,
}

/// Checks a resource name: 1-63 characters, `^[a-zA-Z0-9][a-zA-Z0-9\-_]*`.
pub fn validate_name(what: &str, name: &str) -> Result<()> {
    let ok = (1..=63).contains(&name.len())
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(invalid!(
            "{what} {name:?} is not valid: names have 1-63 characters, start with a letter or \
             digit and use only a-z, A-Z, 0-9, _ and -"
        ))
    }
}

/// Hands out ingestion sequence numbers: nanoseconds since the epoch, strictly increasing within
/// the process, so records from bulk segments and the PUT log order by when they arrived.
pub(crate) fn next_seq() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// A handle on a data directory. Cheap to clone.
///
/// The control plane is its methods: dataset groups, schemas and datasets here, solutions in
/// [`solutions`], campaigns in [`campaigns`], event trackers in [`crate::events`].
///
/// ```
/// # mod setup { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/doctest/setup.rs")); }
/// # let (_tmp, trained) = setup::trained_store();
/// # let dir = trained.root().to_owned();
/// let store = attune::Store::open(&dir)?; // an empty store when the directory is missing
/// for campaign in store.list_campaigns(None)? {
///     let version = store.campaign_model_version(&campaign)?; // `$LATEST` resolved
///     let model = store.load_model(&version)?;
///     println!("{} serves {version} ({})", campaign.name, model.recipe().name());
/// }
/// # Ok::<(), attune::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Store {
    root: Arc<PathBuf>,
}

impl Store {
    /// Opens the store at `root`, creating an empty one when the directory is missing or empty.
    /// Fails with [`Error::UnsupportedFormat`] on a store of another format version.
    pub fn open(root: impl AsRef<Path>) -> Result<Store> {
        let root = root.as_ref().to_owned();
        let format_path = root.join(FORMAT_FILE);
        match fsutil::read_json::<meta::FormatFile>(&format_path)? {
            Some(f) if f.format == meta::FORMAT_NAME && f.version == FORMAT_VERSION => {}
            Some(f) if f.format == meta::FORMAT_NAME => {
                return Err(Error::UnsupportedFormat {
                    path: root,
                    found: f.version,
                    supported: FORMAT_VERSION,
                })
            }
            Some(_) => {
                return Err(Error::Corrupt {
                    path: format_path,
                    reason: "not an Attune store".into(),
                })
            }
            None => {
                let non_empty = fs::read_dir(&root)
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(false);
                if non_empty {
                    return Err(invalid!(
                        "{} is not empty and is not an Attune data directory (no {FORMAT_FILE})",
                        root.display()
                    ));
                }
                fsutil::create_dir_durable(&root)?;
                fsutil::write_json(
                    &format_path,
                    &meta::FormatFile {
                        format: meta::FORMAT_NAME.into(),
                        version: FORMAT_VERSION,
                    },
                )?;
            }
        }
        Ok(Store {
            root: Arc::new(root),
        })
    }

    /// The data directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn schema_path(&self, name: &str) -> PathBuf {
        self.root.join("schemas").join(format!("{name}.json"))
    }

    fn group_dir(&self, name: &str) -> PathBuf {
        self.root.join("groups").join(name)
    }

    /// CreateSchema: validates the document for the domain and stores it under `name`.
    pub fn create_schema(
        &self,
        name: &str,
        schema_json: &str,
        domain: Option<Domain>,
    ) -> Result<SchemaInfo> {
        validate_name("schema name", name)?;
        let parsed = Schema::parse(schema_json, domain)?;
        let path = self.schema_path(name);
        if path.exists() {
            return Err(Error::AlreadyExists {
                kind: "schema",
                name: name.into(),
            });
        }
        fsutil::create_dir_durable(path.parent().expect("schemas dir"))?;
        let now = fsutil::now_secs();
        let info = SchemaInfo {
            name: name.into(),
            schema_arn: arn::schema(name),
            domain: parsed.domain().map(|d| d.as_str().to_owned()),
            schema: schema_json.into(),
            creation_date_time: now,
            last_updated_date_time: now,
        };
        fsutil::write_json(&path, &info)?;
        Ok(info)
    }

    /// DescribeSchema by name or ARN.
    pub fn schema(&self, name_or_arn: &str) -> Result<SchemaInfo> {
        let name =
            arn::name_of("schema", name_or_arn).ok_or_else(|| not_found("schema", name_or_arn))?;
        validate_name("schema name", name)?;
        fsutil::read_json(&self.schema_path(name))?.ok_or_else(|| not_found("schema", name))
    }

    /// ListSchemas, sorted by name.
    pub fn list_schemas(&self) -> Result<Vec<SchemaInfo>> {
        list_json_files(&self.root.join("schemas"))
    }

    /// CreateDatasetGroup. The group is ACTIVE as soon as the call returns.
    pub fn create_dataset_group(
        &self,
        name: &str,
        domain: Option<Domain>,
    ) -> Result<DatasetGroupInfo> {
        validate_name("dataset group name", name)?;
        let dir = self.group_dir(name);
        if dir.join("group.json").exists() {
            return Err(Error::AlreadyExists {
                kind: "dataset group",
                name: name.into(),
            });
        }
        fsutil::create_dir_durable(&dir.join("datasets"))?;
        let now = fsutil::now_secs();
        let info = DatasetGroupInfo {
            name: name.into(),
            dataset_group_arn: arn::dataset_group(name),
            domain: domain.map(|d| d.as_str().to_owned()),
            status: Status::Active,
            creation_date_time: now,
            last_updated_date_time: now,
        };
        fsutil::write_json(&dir.join("group.json"), &info)?;
        Ok(info)
    }

    /// DescribeDatasetGroup by name or ARN.
    pub fn dataset_group(&self, name_or_arn: &str) -> Result<DatasetGroupInfo> {
        let name = arn::name_of("dataset-group", name_or_arn)
            .ok_or_else(|| not_found("dataset group", name_or_arn))?;
        validate_name("dataset group name", name)?;
        fsutil::read_json(&self.group_dir(name).join("group.json"))?
            .ok_or_else(|| not_found("dataset group", name))
    }

    /// ListDatasetGroups, sorted by name.
    pub fn list_dataset_groups(&self) -> Result<Vec<DatasetGroupInfo>> {
        let dir = self.root.join("groups");
        let mut out = Vec::new();
        for name in list_dir_names(&dir)? {
            if let Some(info) = fsutil::read_json(&dir.join(&name).join("group.json"))? {
                out.push(info);
            }
        }
        Ok(out)
    }

    /// CreateDataset: adds a dataset of `dataset_type` to `group` with the named schema. The
    /// schema's record name must match the type and its domain the group's.
    pub fn create_dataset(
        &self,
        group: &str,
        dataset_type: DatasetType,
        name: &str,
        schema_name: &str,
    ) -> Result<DatasetInfo> {
        validate_name("dataset name", name)?;
        let group = self.dataset_group(group)?;
        let schema_info = self.schema(schema_name)?;
        let group_domain = group.domain.as_deref().and_then(Domain::parse);
        if schema_info.domain.as_deref() != group.domain.as_deref() {
            return Err(invalid!(
                "schema {} has domain {}, but dataset group {} has domain {}",
                schema_info.name,
                schema_info.domain.as_deref().unwrap_or("(none)"),
                group.name,
                group.domain.as_deref().unwrap_or("(none: custom)")
            ));
        }
        let schema = Schema::parse(&schema_info.schema, group_domain)?;
        if schema.dataset_type() != dataset_type {
            return Err(invalid!(
                "the dataset type {dataset_type} does not match the schema name {}",
                schema.dataset_type()
            ));
        }
        let dir = self.dataset_dir(&group.name, dataset_type);
        if dir.join("dataset.json").exists() {
            return Err(Error::AlreadyExists {
                kind: "dataset",
                name: format!(
                    "{} (dataset group {} already has a {dataset_type} dataset)",
                    arn::dataset(&group.name, dataset_type),
                    group.name
                ),
            });
        }
        fsutil::create_dir_durable(&dir.join("bulk"))?;
        fsutil::write_atomic(&dir.join("schema.avsc"), schema_info.schema.as_bytes())?;
        let now = fsutil::now_secs();
        let info = DatasetInfo {
            name: name.into(),
            dataset_arn: arn::dataset(&group.name, dataset_type),
            dataset_group_arn: group.dataset_group_arn.clone(),
            dataset_type: dataset_type.as_str().into(),
            schema_arn: schema_info.schema_arn,
            status: Status::Active,
            creation_date_time: now,
            last_updated_date_time: now,
        };
        fsutil::write_json(&dir.join("dataset.json"), &info)?;
        Ok(info)
    }

    fn dataset_dir(&self, group: &str, dataset_type: DatasetType) -> PathBuf {
        self.group_dir(group)
            .join("datasets")
            .join(dataset_type.as_str())
    }

    /// A dataset of a group, ready to import into and read.
    pub fn dataset(&self, group: &str, dataset_type: DatasetType) -> Result<Dataset> {
        let group_info = self.dataset_group(group)?;
        let dir = self.dataset_dir(&group_info.name, dataset_type);
        let info: DatasetInfo = fsutil::read_json(&dir.join("dataset.json"))?.ok_or_else(|| {
            not_found(
                "dataset",
                &format!("{} in dataset group {}", dataset_type, group_info.name),
            )
        })?;
        let schema_path = dir.join("schema.avsc");
        let json = fs::read_to_string(&schema_path).map_err(|e| Error::io(&schema_path, e))?;
        let domain = group_info.domain.as_deref().and_then(Domain::parse);
        let schema = Schema::parse(&json, domain)?;
        Ok(Dataset {
            store: self.clone(),
            group: group_info.name,
            info,
            schema: Arc::new(schema),
            dir,
        })
    }

    /// A dataset by its ARN.
    pub fn dataset_by_arn(&self, dataset_arn: &str) -> Result<Dataset> {
        let (group, ty) = match arn::parse(dataset_arn) {
            Some(("dataset", rest)) => rest
                .split_once('/')
                .and_then(|(g, t)| DatasetType::parse(t).map(|t| (g, t)))
                .ok_or_else(|| not_found("dataset", dataset_arn))?,
            _ => return Err(invalid!("datasetArn {dataset_arn:?} is not a dataset ARN")),
        };
        self.dataset(group, ty)
    }

    /// The datasets of a group that exist.
    pub fn list_datasets(&self, group: &str) -> Result<Vec<DatasetInfo>> {
        let group_info = self.dataset_group(group)?;
        let mut out = Vec::new();
        for ty in DatasetType::ALL {
            let path = self.dataset_dir(&group_info.name, ty).join("dataset.json");
            if let Some(info) = fsutil::read_json(&path)? {
                out.push(info);
            }
        }
        Ok(out)
    }

    pub(crate) fn group_path(&self, group: &str) -> PathBuf {
        self.group_dir(group)
    }
}

/// One dataset of a group: its schema, its partitions and its import jobs.
///
/// An import job with a bad row fails whole, naming the file, line and column, and leaves the
/// dataset as it was:
///
/// ```
/// # mod setup { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/doctest/setup.rs")); }
/// # let (tmp, store) = setup::imported_store();
/// use attune::import::{ImportRequest, NoProgress};
/// use attune::{DatasetType, Error, ImportMode};
///
/// let items = store.dataset("shop", DatasetType::Items)?;
/// let before = items.bulk_rows()?;
/// let csv = tmp.path().join("more-items.csv");
/// std::fs::write(
///     &csv,
///     "ITEM_ID,GENRES,PRICE,BRAND,CREATION_TIMESTAMP,TITLE\n\
///      i9001,toys,4.5,acme,1700000000,Robot\n\
///      i9002,toys,cheap,acme,1700000000,Kite\n",
/// )
/// .unwrap();
/// let job = ImportRequest {
///     job_name: "more".into(),
///     data_location: csv.display().to_string(),
///     mode: ImportMode::Incremental,
/// };
/// let Err(Error::Import(failure)) = items.import(&job, &NoProgress) else {
///     panic!("the import should fail");
/// };
/// let row = &failure.row_errors[0];
/// assert_eq!((row.line, row.column.as_deref()), (3, Some("PRICE")));
/// assert_eq!(items.bulk_rows()?, before);
/// # Ok::<(), attune::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Dataset {
    store: Store,
    group: String,
    info: DatasetInfo,
    schema: Arc<Schema>,
    dir: PathBuf,
}

impl Dataset {
    /// The dataset's description.
    pub fn info(&self) -> &DatasetInfo {
        &self.info
    }

    /// Its validated schema.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// The dataset type.
    pub fn dataset_type(&self) -> DatasetType {
        self.schema.dataset_type()
    }

    /// The dataset group's name.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The store it lives in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The dataset's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn bulk_dir(&self) -> PathBuf {
        self.dir.join("bulk")
    }

    pub(crate) fn put_dir(&self) -> PathBuf {
        self.dir.join("put")
    }

    pub(crate) fn jobs_dir(&self) -> PathBuf {
        self.dir.join("import-jobs")
    }

    /// The BULK partition's segments, oldest first.
    pub fn segments(&self) -> Result<Vec<Segment>> {
        Ok(
            fsutil::read_json::<meta::Manifest>(&self.bulk_dir().join("MANIFEST.json"))?
                .map(|m| m.segments)
                .unwrap_or_default(),
        )
    }

    /// Replaces the BULK manifest (the commit point of an import) and removes segment files the
    /// new manifest no longer names.
    #[cfg(feature = "import")]
    pub(crate) fn commit_segments(&self, segments: Vec<Segment>) -> Result<()> {
        let dir = self.bulk_dir();
        fsutil::write_json(
            &dir.join("MANIFEST.json"),
            &meta::Manifest {
                segments: segments.clone(),
            },
        )?;
        for name in list_dir_names(&dir)? {
            let stale = name.starts_with("seg-") && !segments.iter().any(|s| s.file == name);
            if stale || name.starts_with(fsutil::TMP_PREFIX) {
                let _ = fs::remove_file(dir.join(&name));
            }
        }
        Ok(())
    }

    /// How many rows the BULK partition holds.
    pub fn bulk_rows(&self) -> Result<u64> {
        Ok(self.segments()?.iter().map(|s| s.rows).sum())
    }

    /// Reads every stored record, BULK segments first (oldest first), then the PUT log, calling
    /// `f` with the origin, the ingestion sequence number and the values in schema order (plain
    /// values: unions unwrapped, null as `Value::Null`). Stops at the first error `f` returns.
    pub fn scan(&self, mut f: impl FnMut(Origin, u64, &[Value]) -> Result<()>) -> Result<()> {
        let nfields = self.schema.fields().len();
        let mut row: Vec<Value> = Vec::with_capacity(nfields);
        for seg in self.segments()? {
            let path = self.bulk_dir().join(&seg.file);
            let file = fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
            let reader = apache_avro::Reader::new(std::io::BufReader::new(file))?;
            for value in reader {
                let value = value?;
                record_values(&path, value, nfields, &mut row)?;
                f(Origin::Bulk, seg.seq, &row)?;
            }
        }
        log::scan(self, |seq, values| f(Origin::Put, seq, values))
    }

    /// The import jobs of this dataset, oldest first. A job left in progress by a process that
    /// died is recorded as CREATE FAILED on the way (`store::running`).
    pub fn import_jobs(&self) -> Result<Vec<ImportJobInfo>> {
        let mut jobs = Vec::new();
        for name in list_dir_names(&self.jobs_dir())? {
            if let Some(job) = name.strip_suffix(".json") {
                jobs.extend(self.read_job(job)?);
            }
        }
        jobs.sort_by(|a, b| a.creation_date_time.total_cmp(&b.creation_date_time));
        Ok(jobs)
    }

    /// One import job by name or ARN. A job left in progress by a process that died is
    /// recorded as CREATE FAILED on the way (`store::running`).
    pub fn import_job(&self, name_or_arn: &str) -> Result<ImportJobInfo> {
        let name = arn::name_of("dataset-import-job", name_or_arn)
            .ok_or_else(|| not_found("dataset import job", name_or_arn))?;
        validate_name("job name", name)?;
        self.read_job(name)?
            .ok_or_else(|| not_found("dataset import job", name))
    }

    fn read_job(&self, name: &str) -> Result<Option<ImportJobInfo>> {
        running::read_settled(&self.job_path(name), &self.job_lock_path(name))
    }

    fn job_path(&self, name: &str) -> PathBuf {
        self.jobs_dir().join(format!("{name}.json"))
    }

    /// The lock file an import job's process holds while it runs.
    fn job_lock_path(&self, name: &str) -> PathBuf {
        self.jobs_dir().join(format!("{name}.lock"))
    }

    /// Records a new import job as CREATE IN_PROGRESS under its lock, taken first
    /// ([`running::RunningJob`]). Refuses a job name the dataset already has.
    #[cfg(feature = "import")]
    pub(crate) fn begin_job(
        &self,
        job_name: &str,
        data_location: &str,
        mode: ImportMode,
    ) -> Result<RunningJob<ImportJobInfo>> {
        validate_name("job name", job_name)?;
        if self.import_job(job_name).is_ok() {
            return Err(Error::AlreadyExists {
                kind: "dataset import job",
                name: job_name.to_owned(),
            });
        }
        let now = fsutil::now_secs();
        let job = ImportJobInfo {
            job_name: job_name.to_owned(),
            dataset_import_job_arn: arn::dataset_import_job(job_name),
            dataset_arn: self.info.dataset_arn.clone(),
            data_location: data_location.to_owned(),
            import_mode: mode,
            status: Status::CreateInProgress,
            failure_reason: None,
            rows_imported: 0,
            bad_rows: 0,
            creation_date_time: now,
            last_updated_date_time: now,
        };
        RunningJob::begin(self.job_path(job_name), &self.job_lock_path(job_name), job)
    }

    /// Records the end of a job begun with [`Dataset::begin_job`]: ACTIVE with the rows
    /// imported, or CREATE FAILED with the failure reason (and, for [`Error::Import`], the row
    /// error report next to the job, `<job>.errors.txt`). Returns the job, or the error.
    #[cfg(feature = "import")]
    pub(crate) fn finish_job(
        &self,
        mut job: RunningJob<ImportJobInfo>,
        result: Result<u64>,
    ) -> Result<ImportJobInfo> {
        match result {
            Ok(rows) => {
                job.record_mut().rows_imported = rows;
                job.finish(Status::Active, None)
            }
            Err(err) => {
                if let Error::Import(failure) = &err {
                    job.record_mut().bad_rows = failure.bad_rows;
                    let report: String = failure
                        .row_errors
                        .iter()
                        .map(|e| format!("{e}\n"))
                        .collect();
                    let path =
                        (self.jobs_dir()).join(format!("{}.errors.txt", job.record().job_name));
                    fsutil::write_atomic(&path, report.as_bytes())?;
                }
                job.finish(Status::CreateFailed, Some(err.to_string()))?;
                Err(err)
            }
        }
    }
}

impl JobRecord for ImportJobInfo {
    fn status(&self) -> Status {
        self.status
    }

    fn end(&mut self, status: Status, failure_reason: Option<String>) {
        self.status = status;
        self.failure_reason = failure_reason;
        self.last_updated_date_time = fsutil::now_secs();
    }
}

/// Turns one Avro record read back from a segment or the log into plain values in schema order.
pub(crate) fn record_values(
    path: &Path,
    value: Value,
    nfields: usize,
    row: &mut Vec<Value>,
) -> Result<()> {
    row.clear();
    match value {
        Value::Record(fields) => {
            for (_, v) in fields.into_iter().take(nfields) {
                row.push(from_avro_field(v));
            }
            if row.len() != nfields {
                return Err(Error::Corrupt {
                    path: path.to_owned(),
                    reason: format!("a record has {} fields, the schema {nfields}", row.len()),
                });
            }
            Ok(())
        }
        other => Err(Error::Corrupt {
            path: path.to_owned(),
            reason: format!("expected a record, found {other:?}"),
        }),
    }
}

pub(crate) fn not_found(kind: &'static str, name: &str) -> Error {
    Error::NotFound {
        kind,
        name: name.to_owned(),
    }
}

pub(crate) fn list_dir_names(dir: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with(fsutil::TMP_PREFIX))
        .collect();
    names.sort();
    Ok(names)
}

fn list_json_files<T: serde::de::DeserializeOwned>(dir: &Path) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for name in list_dir_names(dir)? {
        if name.ends_with(".json") {
            if let Some(v) = fsutil::read_json(&dir.join(&name))? {
                out.push(v);
            }
        }
    }
    Ok(out)
}
