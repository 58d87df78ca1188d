//! Background work: dataset import jobs and solution-version trainings run on their own
//! threads, so Create* returns at once with the ARN and clients poll Describe* until ACTIVE or
//! CREATE FAILED, as with Amazon Personalize.
//!
//! The registry is per process and keyed by the store's root: it knows which jobs run here, how
//! many (the quotas of `spec/api.md` 4: 5 import jobs and 20 trainings in progress), the cancel
//! flag of each training (StopSolutionVersionCreation). Both kinds are recorded in the store
//! (CREATE IN_PROGRESS) before Create* returns; one whose process dies is read back as CREATE
//! FAILED (`attune::store::running`).

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

#[derive(Debug, Default)]
struct Registry {
    /// (store root, job name) -> the dataset ARN of an import job running here.
    imports: Mutex<HashMap<(PathBuf, String), String>>,
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

/// Records a dataset import job (CREATE IN_PROGRESS, durably, before Create returns) and runs
/// it on a worker thread. The caller has validated the request; the job name must be unused in
/// the whole store (its ARN names only the job).
pub(crate) fn start_import(
    store: &Store,
    dataset: Dataset,
    request: ImportRequest,
    name_taken: impl FnOnce() -> Out<bool>,
) -> Out<ImportJobInfo> {
    let root = store.root().to_owned();
    let key = (root.clone(), request.job_name.clone());
    {
        let mut imports = lock(&registry().imports);
        let running = imports.keys().filter(|(r, _)| *r == root).count();
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
        imports.insert(key.clone(), dataset.info().dataset_arn.clone());
    }
    let pending = match dataset.begin_import(request) {
        Ok(p) => p,
        Err(e) => {
            lock(&registry().imports).remove(&key);
            return Err(sdk(e));
        }
    };
    let info = pending.info().clone();
    let thread_key = key.clone();
    // If the thread cannot start, the dropped job is read back as CREATE FAILED (interrupted).
    let started = spawn(root, format!("import {}", info.job_name), move || {
        match pending.run(&NoProgress) {
            Ok(job) => {
                tracing::info!(job = %job.dataset_import_job_arn, rows = job.rows_imported, "import job done");
            }
            Err(e) => tracing::info!(job = %thread_key.1, cause = %e, "import job failed"),
        }
        lock(&registry().imports).remove(&thread_key);
    });
    if let Err(e) = started {
        lock(&registry().imports).remove(&key);
        return Err(e);
    }
    Ok(info)
}

/// Whether an import job into the dataset runs here.
pub(crate) fn import_running(store: &Store, dataset_arn: &str) -> bool {
    let root = store.root();
    lock(&registry().imports)
        .iter()
        .any(|((r, _), d)| r == root && d == dataset_arn)
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
