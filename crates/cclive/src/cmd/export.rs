//! `cclive export SESSION_ID [--jsonl] [-o FILE]`: one session, to move it to another machine
//! (`cclive import-events`) or to keep it.
//!
//! The format (version 1, documented in `docs/integrations.md`) is JSON lines: a header line
//! `{"cclive_export": 1, "cclive_version", "exported_at", "events": N, "session": {…},
//! "ledger": {…}}` — the session's final state and its ledger (per-response usage, tool and
//! prompt ids: what lets it go on folding without counting twice) — then the N stored events,
//! one `Event` JSON per line, in the order they were recorded. No message content: events carry
//! usage and metadata only, as in the store.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::{Context, bail};
use cclive_store::Store;
use jiff::Timestamp;

use crate::cli::ExportArgs;
use crate::config::Settings;
use crate::history::export::{FORMAT_VERSION, Header, resolve_session};

/// Writes the export.
pub(super) fn run(args: &ExportArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let Some(store) = settings.open_existing_store()? else {
        bail!(
            "no history at {}: nothing to export",
            settings.db.value.display()
        );
    };
    let id = resolve_session(&*store, &args.session)?;
    let session = store
        .session(&id)?
        .with_context(|| format!("session {id} vanished while reading it"))?;
    let events = store.events(&id)?;
    let header = Header {
        cclive_export: FORMAT_VERSION,
        cclive_version: env!("CARGO_PKG_VERSION").to_owned(),
        exported_at: Timestamp::now(),
        events: events.len(),
        ledger: session.ledger_json(),
        session,
    };
    let write = |out: &mut dyn Write| -> std::io::Result<()> {
        serde_json::to_writer(&mut *out, &header)?;
        out.write_all(b"\n")?;
        for event in &events {
            serde_json::to_writer(&mut *out, event)?;
            out.write_all(b"\n")?;
        }
        out.flush()
    };
    if let Some(path) = &args.output {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        // Whole or not at all: a temp file beside the target, renamed when complete.
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("creating a file in {}", dir.display()))?;
        write(&mut BufWriter::new(tmp.as_file_mut()))
            .with_context(|| format!("writing {}", path.display()))?;
        tmp.persist(path)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!(
            "cclive: exported session {id} ({} events) to {}",
            events.len(),
            path.display()
        );
    } else {
        let stdout = std::io::stdout();
        write(&mut BufWriter::new(stdout.lock()))?;
    }
    Ok(ExitCode::SUCCESS)
}
