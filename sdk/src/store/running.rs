//! Jobs that outlive their process. An import job or a solution version is recorded as
//! `CREATE IN_PROGRESS` while a process runs it; if that process dies (a crash, a kill, a
//! restart), nothing would ever record the end, and the record would block the dataset's
//! deletion forever. So the running process holds an exclusive OS lock (`flock`) on a lock file
//! beside the record for the job's whole life, taken before the record is first written. The
//! kernel drops the lock when the process dies, so a reader that finds the record in progress
//! and can take the lock knows the job is orphaned and records it as `CREATE FAILED`.
//!
//! This is the one job lifecycle of the store, used by import jobs and solution versions alike:
//! [`RunningJob::begin`] (lock, then the record in progress), [`RunningJob::finish`] (the final
//! record, then the lock released), and [`read_settled`] for readers.

use std::fs::{self, File, TryLockError};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{fsutil, Status};
use crate::error::{Error, Result};

/// The failure reason of a job whose process stopped before it finished.
pub(crate) const INTERRUPTED: &str = "interrupted: the process running this job stopped before \
     it finished (a crash, a kill or a restart); run it again";

/// A job's record as the store keeps it (an import job, a solution version).
pub(crate) trait JobRecord: Serialize + DeserializeOwned {
    /// The job's status.
    fn status(&self) -> Status;
    /// Records the job's end now: its final status and, for a failure, why.
    fn end(&mut self, status: Status, failure_reason: Option<String>);
}

/// A job this process recorded as in progress and holds the lock of, until [`RunningJob::finish`]
/// records its end. Dropped unfinished, it leaves the job to be read back as CREATE FAILED.
#[derive(Debug)]
pub(crate) struct RunningJob<T> {
    record: T,
    path: PathBuf,
    lock: JobLock,
}

impl<T: JobRecord> RunningJob<T> {
    /// Takes the job's lock at `lock` (in the record's directory, created if missing), then
    /// writes `record` (in progress) at `path`.
    pub(crate) fn begin(path: PathBuf, lock: &Path, record: T) -> Result<RunningJob<T>> {
        debug_assert!(record.status().is_in_progress());
        if let Some(dir) = path.parent() {
            fsutil::create_dir_durable(dir)?;
        }
        let lock = JobLock::acquire(lock)?;
        fsutil::write_json(&path, &record)?;
        Ok(RunningJob { record, path, lock })
    }

    /// The record as written.
    pub(crate) fn record(&self) -> &T {
        &self.record
    }

    /// The record, to fill in what the job found out (rows, hours) before it finishes.
    pub(crate) fn record_mut(&mut self) -> &mut T {
        &mut self.record
    }

    /// Records the job's end (`status`, and for a failure its reason), then releases the lock.
    pub(crate) fn finish(self, status: Status, failure_reason: Option<String>) -> Result<T> {
        let RunningJob {
            mut record,
            path,
            lock,
        } = self;
        record.end(status, failure_reason);
        fsutil::write_json(&path, &record)?;
        drop(lock);
        Ok(record)
    }
}

/// The lock a running job holds. Dropping it (after the job's final record is written) removes
/// the lock file and releases the lock.
#[derive(Debug)]
pub(crate) struct JobLock {
    path: PathBuf,
    _file: File,
}

impl JobLock {
    /// Creates `path` and locks it exclusively. Call it before the job's first record is
    /// written. Fails with ResourceInUse when another handle already holds it.
    pub(crate) fn acquire(path: &Path) -> Result<JobLock> {
        let file = fsutil::open_append(path)?;
        match file.try_lock() {
            Ok(()) => Ok(JobLock {
                path: path.to_owned(),
                _file: file,
            }),
            Err(TryLockError::WouldBlock) => Err(Error::ResourceInUse(format!(
                "{} is held by a running job",
                path.display()
            ))),
            Err(TryLockError::Error(e)) => Err(Error::io(path, e)),
        }
    }
}

impl Drop for JobLock {
    fn drop(&mut self) {
        // Removed while still locked: a reader that opened it earlier then gets the lock, reads
        // the final record again and leaves it alone.
        let _ = fs::remove_file(&self.path);
    }
}

/// Reads the job record at `record` (`Ok(None)` when missing). When it is in progress but no
/// process holds `lock`, records it as CREATE FAILED ([`INTERRUPTED`]) first (under the lock, after reading
/// it again, so a job that just finished is never overwritten) and returns it so; where the
/// store cannot be written, it is returned failed all the same.
pub(crate) fn read_settled<T: JobRecord>(record: &Path, lock: &Path) -> Result<Option<T>> {
    let Some(value) = fsutil::read_json::<T>(record)? else {
        return Ok(None);
    };
    if !value.status().is_in_progress() {
        return Ok(Some(value));
    }
    // The lock file is created before the record's first write and removed after its last:
    // when it is missing, the job finished (the record read again says so), another reader
    // settled it, or the store was written before lock files existed; the record read again
    // decides.
    let _held = match fs::OpenOptions::new().read(true).open(lock) {
        Ok(file) => match file.try_lock() {
            Ok(()) => Some(file),
            Err(TryLockError::WouldBlock) => return Ok(Some(value)),
            Err(TryLockError::Error(e)) => return Err(Error::io(lock, e)),
        },
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io(lock, e)),
    };
    let Some(mut value) = fsutil::read_json::<T>(record)? else {
        return Ok(None);
    };
    if value.status().is_in_progress() {
        value.end(Status::CreateFailed, Some(INTERRUPTED.into()));
        // Best effort: a store this process may only read still reads the job as failed.
        if fsutil::write_json(record, &value).is_ok() {
            let _ = fs::remove_file(lock);
        }
    }
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
    struct Job {
        status: Status,
        reason: Option<String>,
    }

    impl JobRecord for Job {
        fn status(&self) -> Status {
            self.status
        }
        fn end(&mut self, status: Status, failure_reason: Option<String>) {
            self.status = status;
            self.reason = failure_reason;
        }
    }

    fn settle(dir: &Path) -> Job {
        read_settled(&dir.join("job.json"), &dir.join("job.lock"))
            .unwrap()
            .unwrap()
    }

    fn running() -> Job {
        Job {
            status: Status::CreateInProgress,
            reason: None,
        }
    }

    #[test]
    fn a_held_lock_keeps_the_job_in_progress_and_a_released_one_fails_it() {
        let dir = tempfile::tempdir().unwrap();
        let lock_path = dir.path().join("job.lock");
        // What a running job holds; dropping the handle without removing the file is what a
        // dead process leaves (the kernel releases the lock, the file stays).
        let held = File::create(&lock_path).unwrap();
        held.lock().unwrap();
        fsutil::write_json(&dir.path().join("job.json"), &running()).unwrap();
        assert_eq!(settle(dir.path()), running());
        assert!(matches!(
            JobLock::acquire(&lock_path),
            Err(Error::ResourceInUse(_))
        ));

        drop(held);
        assert!(lock_path.exists());
        let job = settle(dir.path());
        assert_eq!(job.status, "CREATE FAILED");
        assert_eq!(job.reason.as_deref(), Some(INTERRUPTED));
        assert!(!lock_path.exists(), "the orphaned lock file is removed");
        // Persisted, and settling again changes nothing.
        let on_disk: Job = fsutil::read_json(&dir.path().join("job.json"))
            .unwrap()
            .unwrap();
        assert_eq!(on_disk, job);
        assert_eq!(settle(dir.path()), job);
    }

    #[test]
    fn a_finished_job_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let lock = JobLock::acquire(&dir.path().join("job.lock")).unwrap();
        fsutil::write_json(&dir.path().join("job.json"), &running()).unwrap();
        let done = Job {
            status: Status::Active,
            reason: None,
        };
        fsutil::write_json(&dir.path().join("job.json"), &done).unwrap();
        drop(lock);
        assert!(!dir.path().join("job.lock").exists());
        assert_eq!(settle(dir.path()), done);
    }

    #[test]
    fn a_running_job_holds_its_lock_until_it_finishes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs").join("job.json");
        let lock = dir.path().join("jobs").join("job.lock");
        let job = RunningJob::begin(path.clone(), &lock, running()).unwrap();
        assert_eq!(settle(&dir.path().join("jobs")), running());
        let done = job
            .finish(Status::CreateFailed, Some("bad row".into()))
            .unwrap();
        assert_eq!(done.reason.as_deref(), Some("bad row"));
        assert!(!lock.exists());
        assert_eq!(settle(&dir.path().join("jobs")), done);
    }

    #[test]
    fn a_record_without_a_lock_file_is_orphaned() {
        let dir = tempfile::tempdir().unwrap();
        fsutil::write_json(&dir.path().join("job.json"), &running()).unwrap();
        assert_eq!(settle(dir.path()).status, "CREATE FAILED");
    }
}
