//! Logs: human-readable lines by default, one JSON object per line with `--log-format json`.
//!
//! JSON is for a collector (Loki, Elasticsearch, CloudWatch): each line carries its level,
//! message and fields, and the spans it was written in, so a query can select every line of
//! one socket (`span.id`) or one user (`span.sub`) without parsing free text.

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

/// How log lines are written to standard output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One readable line per event, for a terminal.
    #[default]
    Text,
    /// One JSON object per line, with the current span and the list of spans.
    Json,
}

/// Installs the global subscriber; `RUST_LOG` filters as usual (default `info`).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
    }
}
