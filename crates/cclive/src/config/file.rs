//! The config file (`config.toml`): its shape as serde reads it, and reading it. It owns the
//! file's keys and the shipped commented default; what a key means once resolved (and its
//! precedence against env and flags) is `settings`' job. It must never read the environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ConfigError, Origin, ServerFileSettings, Sourced};
use crate::sinks::notify::calendar::settings as calendar_settings;
use crate::sinks::notify::settings as notify_settings;

/// The commented default config file; also `cclive config --default`.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../../../../default-config.toml");

/// The config file's shape. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileConfig {
    pub(super) db: Option<PathBuf>,
    pub(super) state_file: Option<PathBuf>,
    pub(super) claude_bin: Option<PathBuf>,
    pub(super) prices_file: Option<PathBuf>,
    pub(super) refresh_interval_secs: Option<f64>,
    pub(super) listen: Option<String>,
    pub(super) claude_config_dirs: Option<Vec<PathBuf>>,
    pub(super) budget: Option<FileBudget>,
    /// `[[webhook]]` tables.
    #[serde(default)]
    pub(super) webhook: Vec<notify_settings::WebhookFile>,
    /// `[[on_change]]` tables.
    #[serde(default)]
    pub(super) on_change: Vec<notify_settings::ExecHookFile>,
    /// The `[team]` table.
    pub(super) team: Option<FileTeam>,
    /// `[[calendar]]` tables.
    #[serde(default)]
    pub(super) calendar: Vec<calendar_settings::CalendarFile>,
    /// The `[server]` table (`cclive server`, team mode).
    pub(super) server: Option<ServerFileSettings>,
}

/// The `[team]` table: this machine's team server.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileTeam {
    pub(super) upstream: Option<String>,
    pub(super) token_file: Option<PathBuf>,
    pub(super) share_prompts: Option<bool>,
}

/// The `[budget]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileBudget {
    pub(super) daily_usd: Option<f64>,
    pub(super) weekly_usd: Option<f64>,
    pub(super) monthly_usd: Option<f64>,
    pub(super) block_at_usd: Option<f64>,
    pub(super) block_period: Option<String>,
    pub(super) week_start: Option<String>,
    pub(super) timezone: Option<String>,
    #[serde(default)]
    pub(super) projects: BTreeMap<String, FileLimits>,
}

/// One `[budget.projects.NAME]` table.
#[allow(clippy::struct_field_names, reason = "the names are the config keys")]
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileLimits {
    pub(super) daily_usd: Option<f64>,
    pub(super) weekly_usd: Option<f64>,
    pub(super) monthly_usd: Option<f64>,
    pub(super) block_at_usd: Option<f64>,
}

pub(super) fn expand_tilde(path: &Path, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~"), home) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path.to_path_buf(),
    }
}

/// A TOML error as the user can act on it: where (line, column), which key (`budget.daily_usd`,
/// from the line and the table above it), and what was expected in plain words:
/// `line 3, column 13, key budget.daily_usd: invalid type: string "ten", expected a number`.
fn toml_error_message(text: &str, e: &toml::de::Error) -> String {
    let what = e
        .message()
        .trim()
        .replace("expected f64", "expected a number")
        .replace("expected u64", "expected a whole number")
        .replace("expected u32", "expected a whole number")
        .replace("expected u16", "expected a whole number")
        .replace("expected i64", "expected a whole number");
    let Some(span) = e.span() else {
        return what;
    };
    let at = span.start.min(text.len());
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..at].chars().count() + 1;
    let line_text = text[line_start..].lines().next().unwrap_or("");
    let key = toml_key_at(&text[..line_start], line_text)
        .map(|k| format!(", key {k}"))
        .unwrap_or_default();
    format!("line {line}, column {column}{key}: {what}")
}

/// The dotted key a line sets (`daily_usd = …` under `[budget]` is `budget.daily_usd`), or the
/// table a header line names; `above` is the text before the line.
fn toml_key_at(above: &str, line: &str) -> Option<String> {
    let header = |l: &str| {
        let l = l.trim();
        l.starts_with('[')
            .then(|| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned())
    };
    if let Some(table) = header(line) {
        return Some(table);
    }
    let key = line.split_once('=')?.0.trim().trim_matches('"');
    if key.is_empty() || key.starts_with('#') {
        return None;
    }
    match above.lines().rev().find_map(header) {
        Some(table) => Some(format!("{table}.{key}")),
        None => Some(key.to_owned()),
    }
}

pub(super) fn read_file_config(
    path: &Sourced<PathBuf>,
    home: Option<&Path>,
) -> Result<(FileConfig, bool), ConfigError> {
    let file_path = expand_tilde(&path.value, home);
    match std::fs::read_to_string(&file_path) {
        Ok(text) => {
            let config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: file_path.clone(),
                message: toml_error_message(&text, &e),
            })?;
            Ok((config, true))
        }
        // A missing file at the default place is normal; one the user named is an error.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && path.origin == Origin::Default => {
            Ok((FileConfig::default(), false))
        }
        Err(source) => Err(ConfigError::Read {
            path: file_path,
            source,
        }),
    }
}
