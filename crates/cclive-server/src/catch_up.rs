//! `GET /api/import`: how far the monitor's catch-up import is.
//!
//! A monitor starts its server before it imports the history (a fresh database with a big
//! history takes seconds), so the page answers at once and shows the import's progress instead
//! of nothing. [`ImportProgress`] is shared between the binary's import (which advances it)
//! and this route (which reads it): a few atomics, no lock, never the store.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::AppState;

/// The catch-up's progress. Cheap to clone; every clone sees the same figures.
#[derive(Clone, Debug, Default)]
pub struct ImportProgress {
    inner: Arc<Progress>,
}

#[derive(Debug, Default)]
struct Progress {
    running: AtomicBool,
    files_total: AtomicU64,
    files_done: AtomicU64,
    bytes_total: AtomicU64,
    bytes_done: AtomicU64,
}

/// What `GET /api/import` answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportStatus {
    /// True until the catch-up has stored what it read (the history is then complete).
    pub importing: bool,
    /// Transcripts read so far.
    pub files_done: u64,
    /// Transcripts with something new to read (0 until they are found).
    pub files_total: u64,
    /// Bytes read so far.
    pub bytes_done: u64,
    /// Bytes to read.
    pub bytes_total: u64,
}

impl ImportProgress {
    /// A catch-up that is about to run (its size is not known yet).
    pub fn running() -> Self {
        let progress = Self::default();
        progress.inner.running.store(true, Ordering::Release);
        progress
    }

    /// The transcripts found to read and their new bytes.
    pub fn set_total(&self, files: u64, bytes: u64) {
        self.inner.files_total.store(files, Ordering::Relaxed);
        self.inner.bytes_total.store(bytes, Ordering::Relaxed);
    }

    /// `bytes` more were read.
    pub fn add_bytes(&self, bytes: u64) {
        self.inner.bytes_done.fetch_add(bytes, Ordering::Relaxed);
    }

    /// One more transcript was read to its end.
    pub fn file_done(&self) {
        self.inner.files_done.fetch_add(1, Ordering::Relaxed);
    }

    /// The catch-up is over (stored, or failed).
    pub fn finish(&self) {
        self.inner.running.store(false, Ordering::Release);
    }

    /// The figures now.
    pub fn status(&self) -> ImportStatus {
        let p = &self.inner;
        ImportStatus {
            importing: p.running.load(Ordering::Acquire),
            files_done: p.files_done.load(Ordering::Relaxed),
            files_total: p.files_total.load(Ordering::Relaxed),
            bytes_done: p.bytes_done.load(Ordering::Relaxed),
            bytes_total: p.bytes_total.load(Ordering::Relaxed),
        }
    }
}

/// `GET /api/import`: the catch-up's progress; `importing: false` once it is done (or when
/// this server runs no import).
pub(crate) async fn import(State(state): State<AppState>) -> Json<ImportStatus> {
    Json(
        state
            .inner
            .metric_sources
            .import
            .as_ref()
            .map(ImportProgress::status)
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_counts_until_finished() {
        let p = ImportProgress::running();
        assert!(p.status().importing);
        p.set_total(3, 300);
        p.add_bytes(100);
        p.file_done();
        let seen = p.clone();
        assert_eq!(
            seen.status(),
            ImportStatus {
                importing: true,
                files_done: 1,
                files_total: 3,
                bytes_done: 100,
                bytes_total: 300
            }
        );
        p.finish();
        assert!(!seen.status().importing);
        assert!(!ImportProgress::default().status().importing);
    }
}
