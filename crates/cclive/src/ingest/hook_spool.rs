//! The hook spool: what `cclive hook` could hand neither to a monitor nor to the store (the
//! database busy with another writer, read-only, broken) waits here until the next monitor or
//! import drains it, once.
//!
//! One file beside the database, `<database>.hook-spool`: append-only lines of cclive's event
//! JSON (small: previews, ids and figures, never a tool's output). Appends hold an exclusive
//! `flock` for the one write, so lines of concurrent hooks never interleave. [`take`] renames the
//! file to `<database>.hook-spool.draining` (new hooks start a fresh spool at once), reads it, and
//! [`Drained::done`] deletes it once the caller has committed what it read; a drain that dies
//! before that is read again by the next one. This file never opens the database.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cclive_core::Event;

/// Longest wait for another hook's append.
const LOCK_WAIT: Duration = Duration::from_millis(30);

/// The spool of the database at `db`.
pub(crate) fn path(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".hook-spool");
    db.with_file_name(name)
}

fn draining_path(db: &Path) -> PathBuf {
    let mut p = path(db).into_os_string();
    p.push(".draining");
    PathBuf::from(p)
}

/// Appends `events` to the spool of the database at `db`.
pub(crate) fn append(db: &Path, events: &[Event]) -> io::Result<()> {
    let mut text = Vec::new();
    for event in events {
        serde_json::to_writer(&mut text, event).map_err(io::Error::other)?;
        text.push(b'\n');
    }
    let spool = path(db);
    if let Some(dir) = spool.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = OpenOptions::new().create(true).append(true).open(&spool)?;
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(io::Error::new(io::ErrorKind::WouldBlock, "spool busy"));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
    }
    file.write_all(&text)
}

/// What a drain read; [`Drained::done`] once it is committed.
#[derive(Debug, Default)]
pub(crate) struct Drained {
    /// The spooled events, oldest first.
    pub(crate) events: Vec<Event>,
    /// Lines that were not events (a torn write): skipped.
    pub(crate) bad_lines: u64,
    file: Option<PathBuf>,
}

impl Drained {
    /// Forgets the drained events: they are committed.
    pub(crate) fn done(self) -> io::Result<()> {
        match self.file {
            Some(f) => match std::fs::remove_file(f) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
            None => Ok(()),
        }
    }
}

/// Takes the spool of the database at `db` (with what an earlier drain left unfinished).
pub(crate) fn take(db: &Path) -> io::Result<Drained> {
    let draining = draining_path(db);
    if !draining.exists() {
        match std::fs::rename(path(db), &draining) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Drained::default()),
            Err(e) => return Err(e),
        }
        // A hook that opened the old file before the rename may still be appending to it.
        if let Ok(f) = File::open(&draining) {
            let _ = f.lock();
        }
    }
    let mut drained = Drained {
        file: Some(draining.clone()),
        ..Drained::default()
    };
    for line in BufReader::new(File::open(&draining)?).split(b'\n') {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Event>(&line) {
            Ok(event) => drained.events.push(event),
            Err(_) => drained.bad_lines += 1,
        }
    }
    Ok(drained)
}

#[cfg(test)]
mod tests {
    use cclive_core::{EventKind, SessionId};

    use super::*;

    fn ended(id: &str) -> Event {
        Event::new(
            SessionId::new(id),
            "2026-11-25T10:00:00Z".parse().unwrap(),
            EventKind::SessionEnded { reason: None },
        )
    }

    #[test]
    fn spooled_events_are_drained_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("cclive.db");
        assert!(take(&db).unwrap().events.is_empty());
        append(&db, &[ended("a")]).unwrap();
        append(&db, &[ended("b")]).unwrap();
        let drained = take(&db).unwrap();
        assert_eq!(drained.events, [ended("a"), ended("b")]);
        // A hook while the drain commits: kept for the next drain.
        append(&db, &[ended("c")]).unwrap();
        drained.done().unwrap();
        let next = take(&db).unwrap();
        assert_eq!(next.events, [ended("c")]);
        next.done().unwrap();
        assert!(take(&db).unwrap().events.is_empty(), "once");
    }

    #[test]
    fn a_drain_that_died_before_committing_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("cclive.db");
        append(&db, &[ended("a")]).unwrap();
        let died = take(&db).unwrap();
        drop(died);
        assert_eq!(take(&db).unwrap().events, [ended("a")]);
    }
}
