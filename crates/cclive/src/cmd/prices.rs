//! `cclive prices`: the price table in use, and `cclive prices sync`, which reads the installed
//! Claude Code's own model catalog (offline, from its package) into the user's price file.
//!
//! A leaf: where the user's price file lives is `Settings`' (`user_prices_file`,
//! `prices_sync_target`), finding the installed Claude Code's catalog is
//! `claude_config::price_catalog`'s, parsing it `cclive_core::pricing::catalog`'s.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use cclive_core::PriceTable;
use cclive_core::pricing::Rates;

use crate::claude_config::price_catalog::installed_table;
use crate::cli::{PricesAction, PricesArgs};
use crate::config::Settings;
use crate::monitor::session_monitor::resolve_claude;

pub(super) fn run(args: &PricesArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    match &args.action {
        None => {
            let table = settings.prices()?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&table)?);
            } else {
                print!(
                    "{}",
                    describe(&table, settings.user_prices_file().as_deref())
                );
            }
        }
        Some(PricesAction::Sync { claude, out }) => {
            let claude =
                resolve_claude(claude.as_deref().or(settings.claude_bin.value.as_deref()))?;
            let mut table = installed_table(&claude)?;
            // The catalog carries no fast-mode rates; keep the ones cclive knows.
            table.keep_fast_rates_of(&PriceTable::builtin());
            let target = out.clone().unwrap_or_else(|| settings.prices_sync_target());
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
