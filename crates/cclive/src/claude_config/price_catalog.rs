//! The price table baked into an installed Claude Code: which files of its npm package may hold
//! the model catalog, and its package version. `cclive prices sync` writes it to the user's
//! price file; `cclive doctor` compares it with the table in use. Parsing the catalog is
//! `cclive_core::pricing::catalog`'s job; this module only finds and reads the files, and
//! never writes any.

use std::path::{Path, PathBuf};

use anyhow::Context;
use cclive_core::PriceTable;
use cclive_core::pricing::catalog;

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
