//! A terminal progress bar behind the SDK's `Progress` trait.

use std::io::IsTerminal;
use std::time::Duration;

use attune::progress::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What the units of the work are.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Unit {
    /// Bytes of input (imports).
    Bytes,
    /// Records (generation).
    Records,
}

/// An indicatif bar on stderr, hidden when stderr is not a terminal.
#[derive(Debug)]
pub(crate) struct Bar {
    bar: ProgressBar,
    unit: Unit,
}

impl Bar {
    pub(crate) fn new(unit: Unit) -> Bar {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Bar {
            bar: ProgressBar::with_draw_target(None, target),
            unit,
        }
    }

    fn style(&self, known_total: bool) -> ProgressStyle {
        let template = match (self.unit, known_total) {
            (Unit::Bytes, true) => {
                "{spinner} {msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} \
                 ({binary_bytes_per_sec}, {eta} left)"
            }
            (Unit::Bytes, false) => "{spinner} {msg} {binary_bytes} ({binary_bytes_per_sec})",
            (Unit::Records, true) => {
                "{spinner} {msg} [{bar:30}] {human_pos}/{human_len} records ({per_sec}, {eta} left)"
            }
            (Unit::Records, false) => "{spinner} {msg} {human_pos} records ({per_sec})",
        };
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ")
    }
}

impl Progress for Bar {
    fn start(&self, what: &str, total: u64) {
        self.bar.reset();
        if total > 0 {
            self.bar.set_length(total);
        } else {
            self.bar.unset_length();
        }
        self.bar.set_style(self.style(total > 0));
        self.bar.set_message(what.to_owned());
        self.bar.enable_steady_tick(Duration::from_millis(200));
    }

    fn advance(&self, n: u64) {
        self.bar.inc(n);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
