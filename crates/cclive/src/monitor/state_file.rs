//! The state file: the seed's `current_session.json`, rewritten atomically.
//!
//! Readers (the seed's dashboard, scripts, `cclive status`) poll this file, so it must never be
//! seen half-written: each write goes to a temp file in the same directory and is renamed over
//! the old one. Writes are throttled to one per interval while events pour in; the final state is
//! always written. This module only writes what it is given; the snapshot comes from the monitor.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use cclive_core::Snapshot;
use tokio::time::Instant;

/// Writes snapshots to one path, at most once per `min_interval` unless forced.
#[derive(Debug)]
pub struct StateFileWriter {
    path: PathBuf,
    min_interval: Duration,
    last_write: Option<Instant>,
    dirty: bool,
    failures: u64,
}

impl StateFileWriter {
    /// A writer for `path`.
    pub fn new(path: PathBuf, min_interval: Duration) -> Self {
        Self {
            path,
            min_interval,
            last_write: None,
            dirty: false,
            failures: 0,
        }
    }

    /// Something changed; a write is owed.
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// When the owed write may happen (`None` when nothing is owed).
    pub fn due_at(&self) -> Option<Instant> {
        if !self.dirty {
            return None;
        }
        Some(
            self.last_write
                .map_or_else(Instant::now, |t| t + self.min_interval),
        )
    }

    /// Writes `snapshot` if a write is owed and the interval has passed.
    pub fn write_if_due(&mut self, snapshot: impl FnOnce() -> Snapshot) {
        if self.due_at().is_some_and(|due| due <= Instant::now()) {
            self.write_now(&snapshot());
        }
    }

    /// Writes now, whatever the interval. Failures are logged and counted, never fatal: the
    /// session being monitored matters more than the file.
    pub fn write_now(&mut self, snapshot: &Snapshot) {
        self.dirty = false;
        self.last_write = Some(Instant::now());
        if let Err(err) = write_atomically(&self.path, snapshot) {
            self.failures += 1;
            if self.failures == 1 {
                tracing::warn!(path = %self.path.display(), "Cannot write the state file: {err:#}");
            }
        }
    }
}

/// Serializes `snapshot` to `path` through a temp file and a rename.
pub fn write_atomically(path: &Path, snapshot: &Snapshot) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".cclive-state-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temp file in {}", dir.display()))?;
    let mut json = serde_json::to_vec_pretty(snapshot)?;
    json.push(b'\n');
    tmp.write_all(&json)?;
    tmp.persist(path)
        .with_context(|| format!("renaming onto {}", path.display()))?;
    Ok(())
}

/// Reads a state file.
pub fn read(path: &Path) -> anyhow::Result<Option<Snapshot>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let snapshot = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a cclive state file", path.display()))?;
    Ok(Some(snapshot))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_back_leaving_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/current_session.json");
        let now = jiff::Timestamp::now();
        write_atomically(&path, &Snapshot::inactive(now)).unwrap();
        write_atomically(&path, &Snapshot::inactive(now)).unwrap();
        let back = read(&path).unwrap().unwrap();
        assert_eq!(back.status, None);
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn missing_file_is_none_and_garbage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(&dir.path().join("nope.json")).unwrap().is_none());
        std::fs::write(dir.path().join("bad.json"), "{not json").unwrap();
        assert!(read(&dir.path().join("bad.json")).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn writes_are_throttled_but_owed_writes_come_due() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = StateFileWriter::new(dir.path().join("s.json"), Duration::from_millis(50));
        assert!(w.due_at().is_none());
        w.mark_dirty();
        w.write_if_due(|| Snapshot::inactive(jiff::Timestamp::now()));
        assert!(w.due_at().is_none(), "first write happens at once");
        w.mark_dirty();
        let due = w.due_at().unwrap();
        assert!(due > Instant::now());
        w.write_if_due(|| panic!("too early"));
        tokio::time::advance(Duration::from_millis(50)).await;
        let mut wrote = false;
        w.write_if_due(|| {
            wrote = true;
            Snapshot::inactive(jiff::Timestamp::now())
        });
        assert!(wrote);
    }
}
