//! Background work: dataset import jobs and solution-version trainings run on their own
//! threads, so Create* returns at once with the ARN and clients poll Describe* until ACTIVE or
//! CREATE FAILED, as with Amazon Personalize.
//!
//! The registry is per process and keyed by the store's root: it knows which jobs run here, how
//! many (the quotas of `spec/api.md` 4: 5 import jobs and 20 trainings in progress), the cancel
//! flag of each training (StopSolutionVersionCreation), and import jobs that are accepted but
//! not yet recorded in the store (CREATE PENDING) or that failed before they could be recorded.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::JoinHandle;

use attune::import::{ImportRequest, NoProgress};
use attune::store::solutions::SolutionVersionInfo;
use attune::store::ImportJobInfo;
use attune::train::{self, TrainOptions};
use attune::{Dataset, Store};

use super::input::{error, Out};
use super::sdk;

/// Import jobs in progress at once (not adjustable in Personalize).
pub(crate) const MAX_RUNNING_IMPORTS: usize = 5;
/// Solution versions in progress at once.
pub(crate) const MAX_RUNNING_TRAININGS: usize = 20;

#[derive(Debug)]
struct ImportEntry {
    info: ImportJobInfo,
    running: bool,
}

#[derive(Debug, Default)]
struct Registry {
    /// (store root, job name) -> the job as known before the store has it.
    imports: Mutex<HashMap<(PathBuf, String), ImportEntry>>,
    /// (store root, version ARN) -> cancel flag of a training running here.
    trainings: Mutex<HashMap<(PathBuf, String), Arc<AtomicBool>>>,
    /// Worker threads, so tests can wait for them; finished ones are dropped on each spawn.
    threads: Mutex<Vec<(PathBuf, JoinHandle<()>)>>,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn spawn(root: PathBuf, name: String, work: impl FnOnce() + Send + 'static) -> Out<()> {
    let handle = std::thread::Builder::new()
        .name(name)
        .spawn(work)
        .map_err(|e| {
            tracing::error!(cause = %e, "cannot start a worker thread");
            crate::http::ApiError::internal()
        })?;
    let mut threads = lock(&registry().threads);
    threads.retain(|(_, h)| !h.is_finished());
    threads.push((root, handle));
    Ok(())
}

/// Starts a dataset import job on a worker thread. The caller has validated the request; the
/// job name must be unused in the whole store (its ARN names only the job).
pub(crate) fn start_import(
    store: &Store,
    dataset: Dataset,
    request: ImportRequest,
    name_taken: impl FnOnce() -> Out<bool>,
) -> Out<ImportJobInfo> {
    let root = store.root().to_owned();
    let key = (root.clone(), request.job_name.clone());
    let info = {
        let mut imports = lock(&registry().imports);
        let running = imports
            .iter()
            .filter(|((r, _), e)| *r == root && e.running)
            .count();
        if running >= MAX_RUNNING_IMPORTS {
            return Err(error(
                "LimitExceededException",
                format!(
                    "More than {MAX_RUNNING_IMPORTS} resources with PENDING or IN_PROGRESS status"
                ),
            ));
        }
        if imports.contains_key(&key) || name_taken()? {
            return Err(error(
                "ResourceAlreadyExistsException",
                format!(
                    "dataset import job already exists: {}",
                    attune::arn::dataset_import_job(&request.job_name)
                ),
            ));
        }
        let now = now_secs();
        let info = ImportJobInfo {
            job_name: request.job_name.clone(),
            dataset_import_job_arn: attune::arn::dataset_import_job(&request.job_name),
            dataset_arn: dataset.info().dataset_arn.clone(),
            data_location: request.data_location.clone(),
            import_mode: request.mode,
            status: "CREATE PENDING".into(),
            failure_reason: None,
            rows_imported: 0,
            bad_rows: 0,
            creation_date_time: now,
            last_updated_date_time: now,
        };
        imports.insert(
            key.clone(),
            ImportEntry {
                info: info.clone(),
                running: true,
            },
        );
        info
    };
    let thread_key = key.clone();
    let started = spawn(root, format!("import {}", request.job_name), move || {
        let result = dataset.import(&request, &NoProgress);
        let recorded = dataset.import_job(&request.job_name).is_ok();
        let mut imports = lock(&registry().imports);
        match result {
            Ok(job) => {
                tracing::info!(job = %job.dataset_import_job_arn, rows = job.rows_imported, "import job done");
                imports.remove(&thread_key);
            }
            Err(e) => {
                tracing::info!(job = %request.job_name, cause = %e, "import job failed");
                if recorded {
                    imports.remove(&thread_key);
                } else if let Some(entry) = imports.get_mut(&thread_key) {
                    // Failed before the store recorded it: remember the failure here.
                    entry.running = false;
                    entry.info.status = "CREATE FAILED".into();
                    entry.info.failure_reason = Some(e.to_string());
                    entry.info.last_updated_date_time = now_secs();
                }
            }
        }
    });
    if let Err(e) = started {
        lock(&registry().imports).remove(&key);
        return Err(e);
    }
    Ok(info)
}

/// An import job of this store known only here (pending, or failed before it was recorded).
pub(crate) fn unrecorded_import(store: &Store, job_name: &str) -> Option<ImportJobInfo> {
    lock(&registry().imports)
        .get(&(store.root().to_owned(), job_name.to_owned()))
        .map(|e| e.info.clone())
}

/// Every import job of this store known only here.
pub(crate) fn unrecorded_imports(store: &Store) -> Vec<ImportJobInfo> {
    let root = store.root();
    lock(&registry().imports)
        .iter()
        .filter(|((r, _), _)| r == root)
        .map(|(_, e)| e.info.clone())
        .collect()
}

/// Whether an import job into the dataset runs here.
pub(crate) fn import_running(store: &Store, dataset_arn: &str) -> bool {
    let root = store.root();
    lock(&registry().imports)
        .iter()
        .any(|((r, _), e)| r == root && e.running && e.info.dataset_arn == dataset_arn)
}

/// Records a new solution version (CREATE IN_PROGRESS) and trains it on a worker thread.
pub(crate) fn start_training(store: &Store, solution: &str) -> Out<SolutionVersionInfo> {
    let root = store.root().to_owned();
    let mut trainings = lock(&registry().trainings);
    let running = trainings.keys().filter(|(r, _)| *r == root).count();
    if running >= MAX_RUNNING_TRAININGS {
        return Err(error(
            "LimitExceededException",
            format!(
                "More than {MAX_RUNNING_TRAININGS} solution versions with PENDING or IN_PROGRESS \
                 status"
            ),
        ));
    }
    let pending =
        train::begin_solution_version(store, solution, &TrainOptions::default()).map_err(sdk)?;
    let info = pending.info().clone();
    let key = (root.clone(), info.solution_version_arn.clone());
    let cancel = Arc::new(AtomicBool::new(false));
    trainings.insert(key.clone(), cancel.clone());
    drop(trainings);
    let thread_key = key.clone();
    let started = spawn(root, format!("train {}", info.id()), move || {
        let arn = thread_key.1.clone();
        match pending.train(&NoProgress, &cancel) {
            Ok(_) => tracing::info!(version = %arn, "solution version ACTIVE"),
            Err(e) => tracing::info!(version = %arn, cause = %e, "solution version failed"),
        }
        lock(&registry().trainings).remove(&thread_key);
    });
    if let Err(e) = started {
        lock(&registry().trainings).remove(&key);
        return Err(e);
    }
    Ok(info)
}

/// Asks a training running here to stop; false when none runs for this version.
pub(crate) fn stop_training(store: &Store, version_arn: &str) -> bool {
    let key = (store.root().to_owned(), version_arn.to_owned());
    match lock(&registry().trainings).get(&key) {
        Some(flag) => {
            flag.store(true, Ordering::SeqCst);
            true
        }
        None => false,
    }
}

/// Whether a training running here was asked to stop (DescribeSolutionVersion then reports
/// CREATE STOPPING until it has).
pub(crate) fn training_stopping(store: &Store, version_arn: &str) -> bool {
    let key = (store.root().to_owned(), version_arn.to_owned());
    lock(&registry().trainings)
        .get(&key)
        .is_some_and(|f| f.load(Ordering::SeqCst))
}

/// Waits until every worker thread of this store has finished (tests wait on this rather
/// than poll).
#[cfg(test)]
pub(crate) fn wait_idle(store: &Store) {
    loop {
        let handle = {
            let mut threads = lock(&registry().threads);
            let i = threads.iter().position(|(r, _)| r == store.root());
            i.map(|i| threads.swap_remove(i).1)
        };
        match handle {
            Some(h) => {
                let _ = h.join();
            }
            None => return,
        }
    }
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
