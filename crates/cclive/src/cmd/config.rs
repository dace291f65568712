//! `cclive config`: the effective configuration and where each value came from.

use std::fmt::Write as _;
use std::process::ExitCode;

use cclive_core::budget::Limits;

use crate::cli::ConfigArgs;
use crate::config::{BudgetSettings, ConfigError, DEFAULT_CONFIG_TOML, Origin, Settings};

/// A list of names, or `(none)`.
fn names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let list: Vec<&str> = names.collect();
    if list.is_empty() {
        "(none)".to_owned()
    } else {
        list.join(", ")
    }
}

/// `$12.50` or `(none)`.
fn limit(v: Option<f64>) -> String {
    v.map_or_else(|| "(none)".to_owned(), |v| format!("${v:.2}"))
}

/// One limit set: `daily $10.00 · weekly (none) · monthly $200.00 · block at (none)`.
fn limits_text(l: &Limits) -> String {
    format!(
        "daily {} · weekly {} · monthly {} · block at {}",
        limit(l.daily_usd),
        limit(l.weekly_usd),
        limit(l.monthly_usd),
        limit(l.block_at_usd)
    )
}

/// The `[budget]` table as rows: the global limits, how periods are cut, then each project's.
fn budget_rows(b: &BudgetSettings, origin: &str) -> Vec<(String, String, String)> {
    let mut rows = vec![
        (
            "budget".to_owned(),
            limits_text(&b.budget.limits),
            origin.to_owned(),
        ),
        (
            "budget periods".to_owned(),
            format!(
                "block_at per {} · weeks from {} · zone {}",
                b.budget.block_period.as_str(),
                b.budget.week_start.as_str(),
                b.timezone.as_deref().unwrap_or("system")
            ),
            origin.to_owned(),
        ),
    ];
    for (project, l) in &b.budget.projects {
        rows.push((
            format!("budget.projects.{project}"),
            limits_text(l),
            origin.to_owned(),
        ));
    }
    rows
}

/// Prints the settings (or the commented default file with `--default`).
pub(super) fn run(
    args: &ConfigArgs,
    settings: Result<Settings, ConfigError>,
) -> anyhow::Result<ExitCode> {
    if args.default {
        print!("{DEFAULT_CONFIG_TOML}");
        return Ok(ExitCode::SUCCESS);
    }
    let s = settings?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(ExitCode::SUCCESS);
    }
    let opt = |p: &Option<std::path::PathBuf>| {
        p.as_ref()
            .map_or_else(|| "(not set)".to_owned(), |p| p.display().to_string())
    };
    // The default place, when a file is there, is where the user put their settings: say so
    // rather than "default".
    let config_origin = if s.config_file_found && s.config_file.origin == Origin::Default {
        "found at the default place".to_owned()
    } else {
        s.config_file.origin.to_string()
    };
    let mut rows = vec![
        (
            "config_file",
            format!(
                "{}{}",
                s.config_file.value.display(),
                if s.config_file_found {
                    ""
                } else {
                    " (not found; using defaults)"
                }
            ),
            config_origin,
        ),
        (
            "db",
            s.db.value.display().to_string(),
            s.db.origin.to_string(),
        ),
        (
            "state_file",
            s.state_file.value.display().to_string(),
            s.state_file.origin.to_string(),
        ),
        (
            "claude_bin",
            s.claude_bin.value.as_ref().map_or_else(
                || "claude (on PATH)".to_owned(),
                |p| p.display().to_string(),
            ),
            s.claude_bin.origin.to_string(),
        ),
        (
            "prices_file",
            opt(&s.prices_file.value),
            s.prices_file.origin.to_string(),
        ),
        (
            "listen",
            s.listen.value.clone(),
            s.listen.origin.to_string(),
        ),
        (
            "claude_config_dirs",
            s.claude_config_dirs
                .value
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            s.claude_config_dirs.origin.to_string(),
        ),
        (
            "refresh_interval_secs",
            s.refresh_interval_secs.value.to_string(),
            s.refresh_interval_secs.origin.to_string(),
        ),
        (
            "webhooks",
            names(s.webhooks.value.iter().map(|w| w.name.as_str())),
            s.webhooks.origin.to_string(),
        ),
        (
            "on_change",
            names(s.on_change.value.iter().map(|h| h.name.as_str())),
            s.on_change.origin.to_string(),
        ),
        (
            "team",
            s.team.value.upstream_shown().map_or_else(
                || "(off)".to_owned(),
                |url| {
                    format!(
                        "{url} (token file {}{})",
                        opt(&s.team.value.token_file),
                        if s.team.value.share_prompts {
                            ", sharing prompts"
                        } else {
                            ""
                        }
                    )
                },
            ),
            s.team.origin.to_string(),
        ),
        (
            "calendars",
            names(s.calendars.value.iter().map(|c| c.name.as_str())),
            s.calendars.origin.to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v, o)| (k.to_owned(), v, o))
    .collect::<Vec<_>>();
    rows.extend(budget_rows(&s.budget.value, &s.budget.origin.to_string()));
    let width = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (key, value, origin) in rows {
        let _ = writeln!(out, "{key:<24} {value:<width$}  # {origin}");
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}
