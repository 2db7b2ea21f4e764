//! Logs: `tracing` events written to stderr, as text or JSON lines, with
//! timestamps and levels, filtered `RUST_LOG`-style (`--log-level`, e.g.
//! `info` or `ringhook=debug`). No event carries a secret, a token or a
//! signature: events name endpoints, messages and sources by id only.

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
pub enum LogInitError {
    #[error("invalid log filter {filter:?}: {source}")]
    Filter {
        filter: String,
        source: tracing_subscriber::filter::ParseError,
    },
    #[error("a global log subscriber is already set")]
    AlreadySet,
}

/// Installs the process's subscriber: `filter` as `RUST_LOG` reads it.
pub fn init(format: LogFormat, filter: &str) -> Result<(), LogInitError> {
    let env = EnvFilter::try_new(filter).map_err(|source| LogInitError::Filter {
        filter: filter.to_string(),
        source,
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env)
        .with_writer(std::io::stderr)
        .with_target(false);
    let done = match format {
        LogFormat::Text => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    done.map_err(|_| LogInitError::AlreadySet)
}
