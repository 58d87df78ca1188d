//! Progress of long work (imports, training, the generator): the [`Progress`] trait callers
//! implement to draw bars or forward to Python, and [`NoProgress`].

/// Receives progress of long work (bytes read, rows trained, ...). Implementations draw progress
/// bars or forward to Python; the default methods do nothing.
pub trait Progress: Sync {
    /// The work starts; `total` units are expected (0 when unknown).
    fn start(&self, _what: &str, _total: u64) {}
    /// `n` more units are done.
    fn advance(&self, _n: u64) {}
    /// The work is over.
    fn finish(&self) {}
    /// A status line (what is happening now, a metric).
    fn message(&self, _msg: &str) {}
}

/// A [`Progress`] that reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
