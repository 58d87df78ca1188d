//! Progress of long SDK calls, reported to a Python callback.
//!
//! [`PyProgress`] implements the SDK's `Progress` trait. It runs on the threads doing the work,
//! without the GIL; at most every [`EVERY`] (and at every start, finish and status message) it
//! attaches to the interpreter briefly to call the callback with a [`ProgressUpdate`] and to
//! check for signals, so Ctrl-C (a notebook's interrupt) stops training. An exception from the
//! callback or a signal is kept, sets the cancel flag that training polls, and is raised when
//! the call returns ([`PyProgress::finish_call`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use attune::progress::Progress;
use pyo3::prelude::*;

use crate::error::Error;

/// The most often `advance` updates reach Python.
const EVERY: Duration = Duration::from_millis(100);

/// One progress report, passed to a progress callback.
#[pyclass(name = "ProgressUpdate", module = "attune", frozen, get_all)]
#[derive(Debug, Clone)]
pub(crate) struct ProgressUpdate {
    /// `"start"`, `"advance"`, `"finish"` or `"message"`.
    kind: &'static str,
    /// What is being done: `"import"`, `"train iALS"`, ...
    stage: String,
    /// Units done in the stage (bytes for file imports, rows for in-memory imports, iterations
    /// for training).
    done: u64,
    /// Units expected in the stage, when known.
    total: Option<u64>,
    /// The status line of a `"message"` update.
    message: Option<String>,
}

#[pymethods]
impl ProgressUpdate {
    fn __repr__(&self) -> String {
        format!(
            "ProgressUpdate(kind={:?}, stage={:?}, done={}, total={}, message={})",
            self.kind,
            self.stage,
            self.done,
            self.total.map_or("None".into(), |t| t.to_string()),
            self.message
                .as_ref()
                .map_or("None".into(), |m| format!("{m:?}"))
        )
    }
}

#[derive(Debug)]
struct State {
    stage: String,
    done: u64,
    total: Option<u64>,
    last_report: Option<Instant>,
    error: Option<PyErr>,
}

/// A `Progress` that forwards to a Python callable (or only checks for signals without one).
#[derive(Debug)]
pub(crate) struct PyProgress {
    callback: Option<Py<PyAny>>,
    state: Mutex<State>,
    cancel: AtomicBool,
}

impl PyProgress {
    /// Resolves the `progress` argument of a call (`None`: a progress bar when tqdm is installed
    /// and the call runs in a notebook; `True`: a tqdm bar; `False`: nothing; a callable: it)
    /// through `attune._progress.resolve`.
    pub(crate) fn new(py: Python<'_>, progress: Option<&Bound<'_, PyAny>>) -> PyResult<PyProgress> {
        let arg = match progress {
            Some(p) => p.clone(),
            None => py.None().into_bound(py),
        };
        let resolved = py
            .import("attune._progress")?
            .getattr("resolve")?
            .call1((arg,))?;
        let callback = if resolved.is_none() {
            None
        } else {
            Some(resolved.unbind())
        };
        Ok(PyProgress {
            callback,
            state: Mutex::new(State {
                stage: String::new(),
                done: 0,
                total: None,
                last_report: None,
                error: None,
            }),
            cancel: AtomicBool::new(false),
        })
    }

    /// Set once the callback raised or a signal arrived: training stops at its next check.
    pub(crate) fn cancel_flag(&self) -> &AtomicBool {
        &self.cancel
    }

    /// The outcome of the SDK call this progress watched: the callback's exception (or the
    /// signal's, e.g. KeyboardInterrupt) when there was one, else the call's result with its
    /// error mapped.
    pub(crate) fn finish_call<T>(self, result: PyResult<T>) -> PyResult<T> {
        let state = self.state.into_inner().unwrap_or_else(|p| p.into_inner());
        match state.error {
            Some(err) => Err(err),
            None => result,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reports to Python: always for start, finish and messages; for advances only when
    /// [`EVERY`] has passed since the last report.
    fn report(&self, kind: &'static str, message: Option<&str>) {
        let update = {
            let mut s = self.lock();
            if s.error.is_some() {
                return;
            }
            let now = Instant::now();
            if kind == "advance" && s.last_report.is_some_and(|t| now - t < EVERY) {
                return;
            }
            s.last_report = Some(now);
            ProgressUpdate {
                kind,
                stage: s.stage.clone(),
                done: s.done,
                total: s.total,
                message: message.map(str::to_owned),
            }
        };
        let outcome = Python::attach(|py| -> PyResult<()> {
            py.check_signals()?;
            if let Some(cb) = &self.callback {
                cb.call1(py, (update,))?;
            }
            Ok(())
        });
        if let Err(err) = outcome {
            self.cancel.store(true, Ordering::SeqCst);
            let mut s = self.lock();
            if s.error.is_none() {
                s.error = Some(err);
            }
        }
    }
}

impl Progress for PyProgress {
    fn start(&self, what: &str, total: u64) {
        {
            let mut s = self.lock();
            s.stage = what.to_owned();
            s.done = 0;
            s.total = (total > 0).then_some(total);
        }
        self.report("start", None);
    }

    fn advance(&self, n: u64) {
        self.lock().done += n;
        self.report("advance", None);
    }

    fn finish(&self) {
        self.report("finish", None);
    }

    fn message(&self, msg: &str) {
        self.report("message", Some(msg));
    }
}

/// Runs an SDK call that reports progress: releases the GIL, then raises the callback's
/// exception (or a signal's) if there was one, else maps the call's error.
pub(crate) fn run_with<T, F>(py: Python<'_>, progress: PyProgress, f: F) -> PyResult<T>
where
    F: FnOnce(&PyProgress) -> attune::Result<T> + Send,
    T: Send,
{
    let result = py
        .detach(|| f(&progress))
        .map_err(|e| PyErr::from(Error(e)));
    progress.finish_call(result)
}
