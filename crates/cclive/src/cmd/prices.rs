//! `cclive prices`: the price table in use, and `cclive prices sync`, which reads the installed
//! Claude Code's own model catalog (offline, from its package) into the user's price file.
//!
//! It owns where the user's price file lives and how the installed Claude Code's executable is
//! found; parsing the catalog is `cclive_core::pricing::catalog`'s job. `doctor` reuses
//! [`installed_table`] to warn when Claude Code knows models the table in use lacks.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use cclive_core::PriceTable;
use cclive_core::pricing::{Rates, catalog};

use crate::cli::{GlobalArgs, PricesAction, PricesArgs};
use crate::config::Settings;
use crate::session_monitor::resolve_claude;

pub(super) fn run(args: &PricesArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings::from_process(global, None)?;
    match &args.action {
        None => {
            let table = super::load_prices(&settings)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&table)?);
            } else {
                print!("{}", describe(&table, user_file(&settings).as_deref()));
            }
        }
        Some(PricesAction::Sync { claude, out }) => {
            let claude =
                resolve_claude(claude.as_deref().or(settings.claude_bin.value.as_deref()))?;
            let mut table = installed_table(&claude)?;
            // The catalog carries no fast-mode rates; keep the ones cclive knows.
            table.keep_fast_rates_of(&PriceTable::builtin());
            let target = out.clone().unwrap_or_else(|| sync_target(&settings));
            if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            let text = serde_json::to_string_pretty(&table)? + "\n";
            let tmp = target.with_extension("json.tmp");
            std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
            std::fs::rename(&tmp, &target)
                .with_context(|| format!("writing {}", target.display()))?;
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "path": target,
                        "source": table.source,
                        "models": table.models.len(),
                    })
                );
            } else {
                println!(
                    "Wrote {} models from {} to {}",
                    table.models.len(),
                    table.source.as_deref().unwrap_or("Claude Code"),
                    target.display()
                );
                if out.is_none() && settings.prices_file.value.is_none() {
                    println!("cclive uses it from now on (a running monitor after a restart).");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The user's price file: the `prices_file` setting, else `prices.json` beside the config file
/// when it exists.
pub(crate) fn user_file(settings: &Settings) -> Option<PathBuf> {
    settings
        .prices_file
        .value
        .clone()
        .or_else(|| Some(default_file(settings)).filter(|p| p.is_file()))
}

/// Where `sync` writes: the `prices_file` setting, else `prices.json` beside the config file.
fn sync_target(settings: &Settings) -> PathBuf {
    settings
        .prices_file
        .value
        .clone()
        .unwrap_or_else(|| default_file(settings))
}

fn default_file(settings: &Settings) -> PathBuf {
    settings
        .config_file
        .value
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join("prices.json")
}

/// The price table of the Claude Code whose launcher is `claude`: its executable (the launcher
/// itself, or the native binary its npm package ships) holds the baked model catalog.
pub(crate) fn installed_table(claude: &Path) -> anyhow::Result<PriceTable> {
    let real = std::fs::canonicalize(claude).unwrap_or_else(|_| claude.to_path_buf());
    let version = package_version(&real);
    let mut last_err = None;
    for candidate in executables(&real) {
        let Ok(bytes) = std::fs::read(&candidate) else {
            continue;
        };
        match catalog::find(&bytes) {
            Ok(found) => {
                return catalog::to_table(&found, version.as_deref())
                    .with_context(|| format!("in {}", candidate.display()));
            }
            Err(e) => last_err = Some(e),
        }
    }
    Err(anyhow::anyhow!(
        "cannot read the model catalog of {}: {}; keep the built-in table or write a price file by hand (`cclive prices --json` shows the format)",
        real.display(),
        last_err.map_or_else(|| "no readable executable".to_owned(), |e| e.to_string())
    ))
}

/// The files that may hold the catalog: the resolved launcher, then the native binaries of the
/// npm package around it (`bin/claude.exe`, `@anthropic-ai/claude-code-<platform>/claude`).
fn executables(real: &Path) -> Vec<PathBuf> {
    let mut out = vec![real.to_path_buf()];
    if let Some(dir) = real.parent() {
        out.push(dir.join("claude.exe"));
        out.push(dir.join("bin/claude.exe"));
        if let Some(scope) = dir.parent().and_then(Path::parent)
            && let Ok(entries) = std::fs::read_dir(scope)
        {
            for entry in entries.flatten() {
                if entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with("claude-code-")
                {
                    out.push(entry.path().join("claude"));
                }
            }
        }
    }
    out.retain(|p| p.is_file());
    out.dedup();
    out
}

/// The `version` of the `@anthropic-ai/claude-code` package holding `real`, if any.
fn package_version(real: &Path) -> Option<String> {
    real.ancestors().skip(1).take(4).find_map(|dir| {
        let text = std::fs::read_to_string(dir.join("package.json")).ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        let name = json["name"].as_str()?;
        name.starts_with("@anthropic-ai/claude-code")
            .then(|| json["version"].as_str().map(str::to_owned))?
    })
}

/// The table as text: where it comes from, then one line per model.
fn describe(table: &PriceTable, file: Option<&Path>) -> String {
    let mut out = String::new();
    let origin = file.map_or_else(|| "built-in".to_owned(), |p| p.display().to_string());
    let _ = writeln!(
        out,
        "Price table: {origin} · {} · format {}",
        table.source.as_deref().unwrap_or("no source given"),
        table.version
    );
    let _ = writeln!(
        out,
        "USD per million tokens (web search: per request)\n{:<22} {:>7} {:>7} {:>8} {:>8} {:>7} {:>6}  extra",
        "model", "input", "output", "write 5m", "write 1h", "read", "search"
    );
    let rates = |r: &Rates| {
        format!(
            "{:>7} {:>7} {:>8} {:>8} {:>7}",
            num(r.input),
            num(r.output),
            num(r.cache_write_5m),
            r.cache_write_1h.map_or_else(|| "=5m".to_owned(), num),
            num(r.cache_read)
        )
    };
    for m in table.models.iter().chain(&table.rules) {
        let mut extra = Vec::new();
        if let Some(long) = &m.long_prompt {
            extra.push(format!(
                "above {} prompt tokens: {}",
                long.above_prompt_tokens,
                rates(&long.rates)
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join("/")
            ));
        }
        if let Some(fast) = &m.fast {
            extra.push(format!(
                "fast: {}",
                rates(fast).split_whitespace().collect::<Vec<_>>().join("/")
            ));
        }
        if !m.contains.is_empty() {
            extra.push(format!("matches ids containing {}", m.contains.join(" + ")));
        }
        let _ = writeln!(
            out,
            "{:<22} {} {:>6}  {}",
            m.id,
            rates(&m.rates),
            num(m.web_search),
            extra.join("; ")
        );
    }
    out
}

fn num(n: f64) -> String {
    format!("{n}")
}
