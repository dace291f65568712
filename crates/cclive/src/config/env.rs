//! The one place that reads the process environment. `settings` resolves cclive's own
//! variables through [`var`] (as an injected lookup, so its precedence table is tested without
//! the real environment); the few process facts that are not settings (the `PATH` claude is
//! looked up on, Claude Code's `CLAUDE_CODE_ENTRYPOINT` in a hook's environment, the runtime
//! dir) have one accessor each here. Every other module takes them from here or from
//! [`super::Settings`]; a test (`env_is_read_only_in_config`) keeps it so. It never decides what
//! a value means beyond "set and not empty".

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A variable's value when it is set and not empty.
pub(crate) fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A variable's value as it is (set but empty is not unset: `TZ=` means UTC).
pub(super) fn var_raw(name: &str) -> Result<String, std::env::VarError> {
    std::env::var(name)
}

/// A variable's raw bytes, when set and not empty.
pub(super) fn var_os(name: &str) -> Option<OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

/// Whether `CCLIVE_LOG` (the log filter) is set at all: set but empty is a filter too.
pub(crate) fn log_filter_set() -> bool {
    std::env::var_os("CCLIVE_LOG").is_some()
}

/// The directories of `PATH`, in order (where `claude` is looked up).
pub(crate) fn path_dirs() -> Vec<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).collect()
}

/// `$CLAUDE_BIN`, for the library API ([`crate::SessionMonitor`]) that runs without settings.
pub(crate) fn claude_bin() -> Option<PathBuf> {
    var_os("CLAUDE_BIN").map(PathBuf::from)
}

/// How Claude Code was started (`CLAUDE_CODE_ENTRYPOINT`: `cli`, `sdk-cli`, …), which it sets
/// in a hook's environment.
pub(crate) fn claude_code_entrypoint() -> Option<String> {
    std::env::var("CLAUDE_CODE_ENTRYPOINT").ok()
}

/// The per-user runtime dir (`$XDG_RUNTIME_DIR/cclive`) when there is one.
pub(crate) fn runtime_dir() -> Option<PathBuf> {
    var_os("XDG_RUNTIME_DIR")
        .filter(|d| Path::new(d).is_dir())
        .map(|d| PathBuf::from(d).join("cclive"))
}

/// The team database `cclive server` and `cclive team` use without `--database-url`
/// (`CCLIVE_DATABASE_URL`; it wins over the config file's).
pub(crate) fn database_url() -> Option<String> {
    var("CCLIVE_DATABASE_URL")
}

/// The team's token for `cclive report --server` (`CCLIVE_TEAM_TOKEN`).
pub(crate) fn team_token() -> Option<String> {
    std::env::var("CCLIVE_TEAM_TOKEN").ok()
}

/// A test's cap on the team uploader's retry wait (`CCLIVE_TEAM_RETRY_MAX_MS`).
pub(crate) fn team_retry_cap() -> Option<Duration> {
    var("CCLIVE_TEAM_RETRY_MAX_MS")
        .and_then(|ms| ms.parse().ok())
        .map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::tests::source_lines_where;

    /// The environment is read here and nowhere else in the binary (issue #10): a module that
    /// needs a variable gets it from [`super::super::Settings`] or an accessor above.
    #[test]
    fn env_is_read_only_in_config() {
        // Built so that this test's own lines do not match.
        let reads = ["var(", "var_os(", "vars(", "vars_os("].map(|f| format!("env::{f}"));
        let found = source_lines_where(|file, line| {
            file != Path::new("config/env.rs")
                && reads.iter().any(|call| {
                    line.contains(&format!("std::{call}")) || line.contains(&format!(" {call}"))
                })
        });
        assert!(
            found.is_empty(),
            "read the environment through config/env.rs (or Settings):\n{}",
            found.join("\n")
        );
    }
}
