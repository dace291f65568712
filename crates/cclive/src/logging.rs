//! The tracing subscriber: stderr, compact, level from `--verbose` or `CCLIVE_LOG`.
//!
//! Installed only here, by the binary. Logs never include transcript or prompt content.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;

/// Installs the subscriber. `verbose`: 0 = warnings, 1 = debug, 2+ = trace.
/// The filter of `-vv`.
const VERY_VERBOSE: &str =
    "cclive=trace,cclive_core=trace,cclive_store=trace,cclive_server=trace,info";

pub(crate) fn init(verbose: u8) {
    let fmt = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .compact();
    if verbose == 0 && !crate::config::env::log_filter_set() {
        // Warnings from everything, as the `warn` filter says, without parsing a filter: a few
        // percent of a status line run, which Claude Code starts after every turn.
        let _ = fmt.with_max_level(LevelFilter::WARN).try_init();
        return;
    }
    let default = match verbose {
        0 => "warn",
        1 => "cclive=debug,cclive_core=debug,cclive_store=debug,warn",
        // Everything of cclive's own; other crates (the HTTP client and server among them) stay
        // at info: their debug lines name whole URLs, and a webhook's path or query is often
        // its secret. `CCLIVE_LOG` still turns anything on.
        _ => VERY_VERBOSE,
    };
    let filter = EnvFilter::try_from_env("CCLIVE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = fmt.with_env_filter(filter).try_init();
}
