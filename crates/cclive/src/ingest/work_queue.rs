//! The files an import reads, handed from the walk to the readers as the walk finds them.
//!
//! A reader takes the file with the most to read of those waiting (so the readers finish
//! together), and waits while the walk may still find one; once the walk ends and the queue is
//! empty, it stops. It never reads a file or decides which files to read: the import does both.

use std::collections::BinaryHeap;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use crate::ingest::tail::FileTail;

/// The queue: the files waiting for a reader, and whether the walk is over.
#[derive(Default)]
pub(crate) struct WorkQueue {
    waiting: Mutex<Waiting>,
    found: Condvar,
}

#[derive(Default)]
struct Waiting {
    files: BinaryHeap<Pending>,
    /// True once the walk is over: nothing more comes.
    walked: bool,
    /// Files handed over so far, and their new bytes.
    pushed: usize,
    bytes: u64,
}

/// A file waiting to be read, ordered by how much it has to read (then by path, for a stable
/// order).
struct Pending {
    new_bytes: u64,
    tail: FileTail,
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.new_bytes
            .cmp(&other.new_bytes)
            .then_with(|| other.tail.path().cmp(self.tail.path()))
    }
}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Pending {}

/// Ends the walk when dropped (see [`WorkQueue::walk_done`]).
pub(crate) struct EndOfWalk<'a>(pub(crate) &'a WorkQueue);

impl Drop for EndOfWalk<'_> {
    fn drop(&mut self) {
        self.0.walk_done();
    }
}

impl WorkQueue {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands `tail`, with `new_bytes` to read, to a reader.
    pub(crate) fn push(&self, new_bytes: u64, tail: FileTail) {
        let mut waiting = self.lock();
        waiting.pushed += 1;
        waiting.bytes += new_bytes;
        waiting.files.push(Pending { new_bytes, tail });
        self.found.notify_one();
    }

    /// Ends the walk: readers take what waits and stop. Returns how many files were handed over
    /// and their new bytes.
    pub(crate) fn walk_done(&self) -> (usize, u64) {
        let mut waiting = self.lock();
        waiting.walked = true;
        self.found.notify_all();
        (waiting.pushed, waiting.bytes)
    }

    /// The next file to read, waiting for the walk to find one; `None` once the walk is over
    /// and every file was taken.
    pub(crate) fn next(&self) -> Option<FileTail> {
        let mut waiting = self.lock();
        loop {
            match waiting.take() {
                Take::File(tail) => return Some(tail),
                Take::Done => return None,
                Take::Wait => {
                    waiting = self
                        .found
                        .wait(waiting)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
        }
    }
}

/// What a reader gets from the queue.
enum Take {
    File(FileTail),
    /// Nothing waits, but the walk goes on.
    Wait,
    /// Nothing waits, and nothing more comes.
    Done,
}

impl Waiting {
    fn take(&mut self) -> Take {
        match self.files.pop() {
            Some(pending) => Take::File(pending.tail),
            None if self.walked => Take::Done,
            None => Take::Wait,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// A file to read with `new_bytes` bytes, in `dir`.
    fn pending(dir: &Path, name: &str, new_bytes: u64) -> (u64, FileTail) {
        let path = dir.join(name);
        std::fs::write(&path, "{}\n").unwrap();
        (new_bytes, FileTail::open(&path, None).unwrap())
    }

    fn taken(waiting: &mut Waiting) -> Option<String> {
        match waiting.take() {
            Take::File(tail) => Some(tail.path().file_name()?.to_string_lossy().into_owned()),
            Take::Wait => Some("wait".into()),
            Take::Done => None,
        }
    }

    #[test]
    fn readers_take_the_biggest_file_found_so_far_and_wait_for_the_walk_to_end() {
        let dir = tempfile::tempdir().unwrap();
        let mut waiting = Waiting::default();
        assert_eq!(
            taken(&mut waiting).as_deref(),
            Some("wait"),
            "the walk may find more"
        );
        for (name, bytes) in [("small.jsonl", 10), ("big.jsonl", 900), ("mid.jsonl", 300)] {
            let (bytes, tail) = pending(dir.path(), name, bytes);
            waiting.files.push(Pending {
                new_bytes: bytes,
                tail,
            });
        }
        assert_eq!(taken(&mut waiting).as_deref(), Some("big.jsonl"));
        assert_eq!(taken(&mut waiting).as_deref(), Some("mid.jsonl"));
        assert_eq!(taken(&mut waiting).as_deref(), Some("small.jsonl"));
        assert_eq!(taken(&mut waiting).as_deref(), Some("wait"));
        waiting.walked = true;
        assert_eq!(
            taken(&mut waiting),
            None,
            "walked and emptied: the reader stops"
        );
    }

    #[test]
    fn a_reader_waiting_for_the_walk_gets_what_it_finds_then_stops() {
        let dir = tempfile::tempdir().unwrap();
        let queue = WorkQueue::default();
        std::thread::scope(|scope| {
            let reader = scope.spawn(|| {
                let mut read = Vec::new();
                while let Some(tail) = queue.next() {
                    read.push(tail.path().to_path_buf());
                }
                read
            });
            let (bytes, tail) = pending(dir.path(), "a.jsonl", 5);
            queue.push(bytes, tail);
            let (bytes, tail) = pending(dir.path(), "b.jsonl", 50);
            queue.push(bytes, tail);
            assert_eq!(queue.walk_done(), (2, 55));
            let mut read = reader.join().unwrap();
            read.sort();
            assert_eq!(
                read,
                [dir.path().join("a.jsonl"), dir.path().join("b.jsonl")]
            );
        });
    }
}
