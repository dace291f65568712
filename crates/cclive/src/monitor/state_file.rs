//! The state file: the seed's `current_session.json`, rewritten atomically.
//!
//! Readers (the seed's dashboard, scripts, `cclive status`) poll this file, so it must never be
//! seen half-written: each write goes to a temp file in the same directory, which is swapped
//! with the old one (or renamed over it where it cannot be swapped). Writes are throttled to one
//! per interval while events pour in; the final state is always written. This module only writes
//! what it is given; the snapshot comes from the monitor.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use cclive_core::Snapshot;
use tokio::time::Instant;

/// Writes snapshots to one path, at most once per `min_interval` unless forced.
#[derive(Debug)]
pub struct StateFileWriter {
    min_interval: Duration,
    last_write: Option<Instant>,
    dirty: bool,
    thread: Option<WriterThread>,
}

/// The thread that writes, and the one-snapshot slot it takes the newest snapshot from.
#[derive(Debug)]
struct WriterThread {
    slot: Arc<Slot>,
    handle: std::thread::JoinHandle<()>,
}

#[derive(Debug, Default)]
struct Slot {
    next: Mutex<Next>,
    ready: Condvar,
}

#[derive(Debug, Default)]
struct Next {
    snapshot: Option<Snapshot>,
    closed: bool,
}

impl StateFileWriter {
    /// A writer for `path` (its thread starts here).
    pub fn new(path: PathBuf, min_interval: Duration) -> Self {
        let slot = Arc::new(Slot::default());
        let handle = std::thread::Builder::new()
            .name("cclive-state-file".into())
            .spawn({
                let slot = Arc::clone(&slot);
                move || write_loop(&path, &slot)
            });
        let thread = match handle {
            Ok(handle) => Some(WriterThread { slot, handle }),
            Err(e) => {
                tracing::warn!("Cannot start the state file's writer: {e}");
                None
            }
        };
        Self {
            min_interval,
            last_write: None,
            dirty: false,
            thread,
        }
    }

    /// Something changed: a write is owed.
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

    /// Writes when a write is owed and its time has come.
    pub fn write_if_due(&mut self, snapshot: impl FnOnce() -> Snapshot) {
        if self.due_at().is_some_and(|due| due <= Instant::now()) {
            self.write_now(snapshot());
        }
    }

    /// Hands `snapshot` to the writing thread now, whatever the throttle says (it replaces one
    /// not written yet).
    pub fn write_now(&mut self, snapshot: Snapshot) {
        self.dirty = false;
        self.last_write = Some(Instant::now());
        if let Some(t) = &self.thread {
            t.slot
                .next
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .snapshot = Some(snapshot);
            t.slot.ready.notify_one();
        }
    }

    /// Waits until the last snapshot handed over is on disk. Blocking: call it off the async
    /// runtime, at shutdown.
    pub fn finish(mut self) {
        if let Some(t) = self.thread.take() {
            t.slot
                .next
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .closed = true;
            t.slot.ready.notify_one();
            let _ = t.handle.join();
        }
    }
}

impl Drop for StateFileWriter {
    /// Lets the thread write what it was given, then end (without waiting for it here).
    fn drop(&mut self) {
        if let Some(t) = &self.thread {
            t.slot
                .next
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .closed = true;
            t.slot.ready.notify_one();
        }
    }
}

/// The writing thread: writes the newest snapshot whenever there is one, until closed with
/// nothing left to write.
fn write_loop(path: &Path, slot: &Slot) {
    let mut failures = 0u64;
    loop {
        let snapshot = {
            let mut next = slot.next.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                if let Some(s) = next.snapshot.take() {
                    break s;
                }
                if next.closed {
                    return;
                }
                next = slot
                    .ready
                    .wait(next)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        if let Err(err) = write_atomically(path, &snapshot) {
            failures += 1;
            if failures == 1 {
                tracing::warn!(path = %path.display(), "Cannot write the state file: {err:#}");
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
    if exchanged(&tmp, path) {
        // The temp path now names the old file: dropping `tmp` removes it.
        return Ok(());
    }
    tmp.persist(path)
        .with_context(|| format!("renaming onto {}", path.display()))?;
    Ok(())
}

/// Swaps the written temp file and the state file in one step (`renameat2` with
/// `RENAME_EXCHANGE`); false when it could not (no state file yet, or a file system or kernel
/// without it), and the caller renames instead. Only a regular file is swapped: an exchange
/// would move a directory or a link found at the path to the temp name, which is then removed.
///
/// Why not always rename: on ext4 (the common Linux root), renaming onto an existing file
/// starts writing the new file's data out at once (`auto_da_alloc`, its guard against empty
/// files after a crash). For a snapshot rewritten with every live line that was over a third
/// of the state-file thread's CPU (0.35 → 0.22 ms a line here), and a disk request each time. An
/// exchange is as atomic for readers — each sees the old file or the new one, whole, and one
/// that opened the old file reads it to its end — without that write-out. What it gives up: after
/// a power cut the file may be found empty, which [`read`] takes for no snapshot, until the
/// monitor writes again.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn exchanged(tmp: &tempfile::NamedTempFile, path: &Path) -> bool {
    use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file())
        && renameat2(
            AT_FDCWD,
            tmp.path(),
            AT_FDCWD,
            path,
            RenameFlags::RENAME_EXCHANGE,
        )
        .is_ok()
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn exchanged(_tmp: &tempfile::NamedTempFile, _path: &Path) -> bool {
    false
}

/// Reads a state file. An empty one is no snapshot, like a missing one: what a write cut off by
/// a power cut leaves (see `exchanged`).
pub fn read(path: &Path) -> anyhow::Result<Option<Snapshot>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) if bytes.is_empty() => return Ok(None),
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
    fn a_reader_that_opened_the_file_before_a_write_reads_the_old_snapshot_whole() {
        use std::io::Read;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let old = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let new = jiff::Timestamp::from_second(1_800_000_060).unwrap();
        write_atomically(&path, &Snapshot::inactive(old)).unwrap();
        let mut opened = std::fs::File::open(&path).unwrap();
        for _ in 0..3 {
            write_atomically(&path, &Snapshot::inactive(new)).unwrap();
        }
        let mut bytes = Vec::new();
        opened.read_to_end(&mut bytes).unwrap();
        let seen: Snapshot = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(seen.updated_at, old);
        assert_eq!(read(&path).unwrap().unwrap().updated_at, new);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "the replaced files are gone: {names:?}");
    }

    #[test]
    fn a_directory_at_the_path_is_not_swapped_away() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("keep"), "mine").unwrap();
        let now = jiff::Timestamp::now();
        assert!(write_atomically(&path, &Snapshot::inactive(now)).is_err());
        assert_eq!(std::fs::read_to_string(path.join("keep")).unwrap(), "mine");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "nothing left beside it: {names:?}");
    }

    #[test]
    fn a_link_at_the_path_is_replaced_and_its_target_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (path, target) = (dir.path().join("s.json"), dir.path().join("elsewhere.json"));
        std::fs::write(&target, "theirs").unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        write_atomically(&path, &Snapshot::inactive(now)).unwrap();
        assert_eq!(read(&path).unwrap().unwrap().updated_at, now);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "theirs");
    }

    #[test]
    fn missing_or_empty_file_is_none_and_garbage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(&dir.path().join("nope.json")).unwrap().is_none());
        std::fs::write(dir.path().join("empty.json"), "").unwrap();
        assert!(read(&dir.path().join("empty.json")).unwrap().is_none());
        std::fs::write(dir.path().join("bad.json"), "{not json").unwrap();
        assert!(read(&dir.path().join("bad.json")).is_err());
    }

    #[test]
    fn the_last_snapshot_handed_over_is_on_disk_when_finish_returns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let mut w = StateFileWriter::new(path.clone(), Duration::ZERO);
        let first = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let last = jiff::Timestamp::from_second(1_800_000_060).unwrap();
        w.write_now(Snapshot::inactive(first));
        w.write_now(Snapshot::inactive(last));
        w.finish();
        assert_eq!(read(&path).unwrap().unwrap().updated_at, last);
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
