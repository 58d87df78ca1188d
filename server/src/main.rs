//! `attune`: the command-line tool. It parses the command line, installs the tracing subscriber
//! and hands over to [`cli::run`]; every failure ends as one `error: ...` line on stderr and a
//! non-zero exit status.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    // Log to stderr, warnings and up unless RUST_LOG says otherwise; stdout carries results.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            cli::report_error(&err);
            ExitCode::FAILURE
        }
    }
}
