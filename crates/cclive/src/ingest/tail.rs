//! Following one transcript file: read only new bytes, survive truncation and replacement.
//!
//! A file is known by `(dev, inode)` and a fingerprint of the bytes already read (the file's
//! head and the bytes just before the offset, as vector's file source fingerprints a file's
//! head). Reading resumes from a checkpoint offset when the file is still the same one, at least
//! that long, and its fingerprint still matches; a file that shrank, a different file at the
//! same path (new inode), or one rewritten in place (`cp backup live.jsonl`, even grown past the
//! old offset) is read again from the start — re-read lines are harmless because every counted
//! thing is keyed (usage by message id, tools by tool-use id, prompts by uuid). The fingerprint
//! is checked on every read (a few hundred bytes read again); [`FileTail::up_to_date`] stays
//! one `stat`.
//! The file is reopened for each read so thousands of idle transcripts hold no descriptors.
//! Known limits: a rewrite that keeps the head and the bytes before the offset but changes bytes
//! in between is not seen, nor by [`FileTail::up_to_date`] one of exactly the length already read (Claude Code appends to transcripts and never rewrites them).
//! Bytes are framed by [`LineFramer`]: a half-written last line stays pending and is read again
//! once complete; the checkpoint offset never moves past it. A file is never read whole into
//! memory: reads are bounded chunks.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use cclive_core::{LineFramer, LineRef};
use cclive_store::Checkpoint;

/// The longest transcript line accepted (Claude Code writes whole files into tool results;
/// 64 MiB is far beyond any real line). Longer lines are skipped and counted.
pub const MAX_LINE: usize = 64 * 1024 * 1024;

/// One read: small enough that its bytes are still in the core's L2 cache (1 MiB here) when the
/// parser reads them. Reads of 1 MiB went to memory and back: twice a cold import's system time.
const CHUNK: usize = 128 * 1024;

std::thread_local! {
    /// The read buffer, kept per thread between reads (at most [`CHUNK`]).
    static READ_BUF: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}
/// Bytes of the file's head in a fingerprint.
const HEAD_BYTES: u64 = 1024;
/// Bytes just before the offset in a fingerprint.
const BEFORE_BYTES: u64 = 256;

/// The fingerprint of the bytes before `offset`: its first [`HEAD_BYTES`] and the last
/// [`BEFORE_BYTES`] before it (FNV-1a, stable across builds: it is stored). `None` when the file
/// holds fewer than `offset` bytes.
fn fingerprint(file: &File, offset: u64) -> Option<u64> {
    let head = offset.min(HEAD_BYTES);
    let before = offset.saturating_sub(BEFORE_BYTES).max(head);
    let mut buf = vec![0u8; usize::try_from(head + (offset - before)).ok()?];
    let (a, b) = buf.split_at_mut(usize::try_from(head).ok()?);
    file.read_exact_at(a, 0).ok()?;
    file.read_exact_at(b, before).ok()?;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in offset.to_le_bytes().iter().chain(&buf) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    Some(hash)
}

/// The one rule for "nothing new to read": a `stat` of a file (`seen`: device, inode, size)
/// shows the file that was read, of the length read (`read`: device, inode, length read). An
/// unknown inode (0) is never the same file.
pub fn read_to_end(read: (u64, u64, u64), seen: (u64, u64, u64)) -> bool {
    read == seen && seen.1 != 0
}

/// One followed file.
#[derive(Debug)]
pub struct FileTail {
    path: PathBuf,
    dev: u64,
    inode: u64,
    /// Where the next read starts (past any pending partial line).
    read_pos: u64,
    framer: LineFramer,
    /// The fingerprint of the bytes before the committed offset, when known (stored).
    fingerprint: Option<u64>,
    /// The fingerprint of the bytes before `read_pos` (a pending partial line included), when
    /// known: what a rewrite is checked against.
    read_fingerprint: Option<u64>,
}

/// What one read did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReadOutcome {
    /// Bytes read.
    pub bytes: u64,
    /// Complete lines handed out.
    pub lines: u64,
    /// True when the file had shrunk or been replaced, and reading started over.
    pub restarted: bool,
    /// True when the read stopped at `max_bytes` with more to read.
    pub more: bool,
    /// The file's modification time at this read (when its last bytes were written), if the
    /// file system gives one.
    pub modified: Option<jiff::Timestamp>,
}

impl FileTail {
    /// Starts following `path`, resuming from `checkpoint` when it still describes this file.
    pub fn open(path: &Path, checkpoint: Option<&Checkpoint>) -> io::Result<FileTail> {
        let meta = std::fs::metadata(path)?;
        let (dev, inode, size) = (meta.dev(), meta.ino(), meta.len());
        let offset = match checkpoint {
            Some(c) if c.dev == dev && c.inode == inode && c.offset <= size => c.offset,
            _ => 0,
        };
        // Only a checkpoint that still applies vouches for bytes.
        let fingerprint = (offset > 0)
            .then(|| checkpoint.and_then(|c| c.fingerprint))
            .flatten();
        Ok(FileTail {
            path: path.to_path_buf(),
            dev,
            inode,
            read_pos: offset,
            framer: LineFramer::new(offset, MAX_LINE),
            fingerprint,
            read_fingerprint: fingerprint,
        })
    }

    /// The path followed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Everything before this offset has been handed out as complete lines.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            path: self.path.clone(),
            dev: self.dev,
            inode: self.inode,
            offset: self.framer.committed_offset(),
            fingerprint: self.fingerprint,
            // Read up to here: beyond the offset, an unfinished last line.
            length: Some(self.read_pos),
        }
    }

    /// True when nothing new can be read (a cheap `stat`, no open).
    pub fn up_to_date(&self) -> bool {
        std::fs::metadata(&self.path).is_ok_and(|m| self.up_to_date_at(m.dev(), m.ino(), m.len()))
    }

    /// [`FileTail::up_to_date`] by a `stat` already made: the same file, read to its end.
    pub fn up_to_date_at(&self, dev: u64, inode: u64, size: u64) -> bool {
        read_to_end((self.dev, self.inode, self.read_pos), (dev, inode, size))
    }

    /// Reads what was appended since the last read (at most about `max_bytes`), calling
    /// `on_line` for every complete line. A missing file reads nothing (it may come back).
    pub fn read_new(
        &mut self,
        max_bytes: u64,
        mut on_line: impl FnMut(&LineRef<'_>),
    ) -> io::Result<ReadOutcome> {
        let mut outcome = ReadOutcome::default();
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(outcome),
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        outcome.modified = meta
            .modified()
            .ok()
            .and_then(|t| jiff::Timestamp::try_from(t).ok());
        let replaced =
            meta.dev() != self.dev || meta.ino() != self.inode || meta.len() < self.read_pos;
        let size = meta.len();
        // Rewritten in place: the bytes already read are no longer there.
        let rewritten = !replaced
            && self.read_fingerprint.is_some()
            && fingerprint(&file, self.read_pos) != self.read_fingerprint;
        if replaced || rewritten {
            // Start over on what is there now.
            self.dev = meta.dev();
            self.inode = meta.ino();
            self.read_pos = 0;
            self.framer = LineFramer::new(0, MAX_LINE);
            self.fingerprint = None;
            self.read_fingerprint = None;
            outcome.restarted = true;
        }
        if size == self.read_pos {
            return Ok(outcome);
        }
        file.seek(SeekFrom::Start(self.read_pos))?;
        // Sized to what there is to read (most reads are a few lines), and kept by the thread
        // for its next read: zeroing a fresh chunk for each was a tenth of a cold import.
        let wanted = usize::try_from((size - self.read_pos).min(max_bytes)).unwrap_or(CHUNK);
        let mut buf = READ_BUF.take();
        buf.resize(wanted.clamp(1, CHUNK), 0);
        let read = self.read_into(&mut file, &mut buf, max_bytes, &mut outcome, &mut on_line);
        READ_BUF.set(buf);
        self.framer.release_buffer();
        read?;
        outcome.more = self.read_pos < size;
        self.fingerprint = fingerprint(&file, self.framer.committed_offset());
        self.read_fingerprint = if self.read_pos == self.framer.committed_offset() {
            self.fingerprint
        } else {
            fingerprint(&file, self.read_pos)
        };
        Ok(outcome)
    }

    /// Reads into `buf` until `max_bytes` or the end, framing lines.
    fn read_into(
        &mut self,
        file: &mut File,
        buf: &mut [u8],
        max_bytes: u64,
        outcome: &mut ReadOutcome,
        on_line: &mut impl FnMut(&LineRef<'_>),
    ) -> io::Result<()> {
        while outcome.bytes < max_bytes {
            let n = file.read(buf)?;
            if n == 0 {
                break;
            }
            self.read_pos += n as u64;
            outcome.bytes += n as u64;
            self.framer.push_each(&buf[..n], |line| {
                outcome.lines += 1;
                on_line(&line);
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use proptest::prelude::*;

    use super::*;

    fn append(path: &Path, bytes: &[u8]) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(bytes).unwrap();
    }

    fn read_all(tail: &mut FileTail) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let o = tail
                .read_new(7, |l| {
                    out.push(String::from_utf8_lossy(l.bytes).into_owned());
                })
                .unwrap();
            if !o.more {
                return out;
            }
        }
    }

    #[test]
    fn resumes_from_a_checkpoint_and_rereads_a_partial_line_once_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        append(&path, b"one\ntw");
        let mut tail = FileTail::open(&path, None).unwrap();
        assert_eq!(read_all(&mut tail), ["one"]);
        let cp = tail.checkpoint();
        assert_eq!(cp.offset, 4, "the checkpoint stops before the partial line");
        append(&path, b"o\nthree\n");
        // A restart: a new tail from the checkpoint reads the partial line again, whole.
        let mut again = FileTail::open(&path, Some(&cp)).unwrap();
        assert_eq!(read_all(&mut again), ["two", "three"]);
        assert!(again.up_to_date());
    }

    #[test]
    fn a_stat_made_elsewhere_tells_a_file_read_to_its_end() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        append(&path, b"one\n");
        let mut tail = FileTail::open(&path, None).unwrap();
        let at = |p: &Path| {
            let m = std::fs::metadata(p).unwrap();
            (m.dev(), m.ino(), m.len())
        };
        let (dev, ino, len) = at(&path);
        assert!(!tail.up_to_date_at(dev, ino, len), "not read yet");
        read_all(&mut tail);
        assert!(tail.up_to_date_at(dev, ino, len));
        append(&path, b"two\n");
        let (dev, ino, len) = at(&path);
        assert!(!tail.up_to_date_at(dev, ino, len), "grown");
        read_all(&mut tail);
        assert!(tail.up_to_date_at(dev, ino, len));
        assert!(
            !tail.up_to_date_at(dev, ino + 1, len),
            "another file of that length"
        );
        assert!(
            !read_to_end((dev, 0, len), (dev, 0, len)),
            "an unknown inode is no file known"
        );
    }

    #[test]
    fn a_replaced_or_truncated_file_is_read_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        append(&path, b"a\nb\n");
        let mut tail = FileTail::open(&path, None).unwrap();
        assert_eq!(read_all(&mut tail), ["a", "b"]);
        std::fs::write(&path, b"c\n").unwrap();
        assert_eq!(read_all(&mut tail), ["c"], "truncated and rewritten");
        let tmp = dir.path().join("new");
        std::fs::write(&tmp, b"d\ne\n").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert_eq!(read_all(&mut tail), ["d", "e"], "replaced (new inode)");
    }

    #[test]
    fn a_stale_checkpoint_of_another_file_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        append(&path, b"x\n");
        let cp = Checkpoint {
            path: path.clone(),
            dev: 1,
            inode: 1,
            offset: 1,
            fingerprint: None,
            length: None,
        };
        let mut tail = FileTail::open(&path, Some(&cp)).unwrap();
        assert_eq!(read_all(&mut tail), ["x"]);
    }

    #[test]
    fn a_file_truncated_in_place_and_grown_past_the_old_offset_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        append(&path, b"one\ntwo\n");
        let mut tail = FileTail::open(&path, None).unwrap();
        assert_eq!(read_all(&mut tail), ["one", "two"]);
        // `cp backup live.jsonl`: same inode, rewritten from the start, longer than before.
        std::fs::write(&path, b"uno\ndos\ntres\n").unwrap();
        assert_eq!(read_all(&mut tail), ["uno", "dos", "tres"]);
        // The same, seen by a later process resuming from the stored checkpoint.
        let cp = tail.checkpoint();
        assert!(cp.fingerprint.is_some());
        std::fs::write(&path, b"eins\nzwei\ndrei\nvier\n").unwrap();
        let mut later = FileTail::open(&path, Some(&cp)).unwrap();
        assert!(!later.up_to_date());
        assert_eq!(read_all(&mut later), ["eins", "zwei", "drei", "vier"]);
        // A plain append still resumes where it was.
        append(&path, b"fuenf\n");
        let mut resumed = FileTail::open(&path, Some(&later.checkpoint())).unwrap();
        assert_eq!(read_all(&mut resumed), ["fuenf"]);
    }

    #[test]
    fn a_missing_file_reads_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        append(&path, b"x\n");
        let mut tail = FileTail::open(&path, None).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(read_all(&mut tail), Vec::<String>::new());
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// Append these bytes (may end mid-line).
        Append(String),
        /// Replace the file by a new one (new inode) with this content.
        Replace(String),
        /// Truncate in place and write this content (shorter or longer than what was read: the
        /// fingerprint tells a rewrite from an append).
        Truncate(String),
        /// Read what is new.
        Read,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => "[a-z]{0,5}(\n[a-z]{0,5}){0,3}\n?".prop_map(Op::Append),
            1 => "([a-z]{1,4}\n){0,3}".prop_map(Op::Replace),
            1 => "([a-z]{1,4}\n){0,4}".prop_map(Op::Truncate),
            4 => Just(Op::Read),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Against a model: after every read, the lines handed out since the last restart are
        /// exactly the complete lines of the file as it is now — nothing lost, nothing twice.
        #[test]
        fn tail_matches_the_model(ops in proptest::collection::vec(op(), 1..30)) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("t.jsonl");
            std::fs::write(&path, b"").unwrap();
            let mut tail = FileTail::open(&path, None).unwrap();
            let mut content = String::new();
            let mut since_restart: Vec<String> = Vec::new();
            let mut replaced = 0;
            let mut pending_read = false;
            for op in ops {
                match op {
                    Op::Append(s) => {
                        append(&path, s.as_bytes());
                        content.push_str(&s);
                    }
                    Op::Replace(s) => {
                        // Keep the old file alive under another name: a freed inode number can
                        // be reused at once, and identity by (dev, inode) cannot see through that.
                        replaced += 1;
                        std::fs::rename(&path, dir.path().join(format!("old{replaced}"))).unwrap();
                        let tmp = dir.path().join("tmp");
                        std::fs::write(&tmp, s.as_bytes()).unwrap();
                        std::fs::rename(&tmp, &path).unwrap();
                        content = s;
                    }
                    Op::Truncate(s) => {
                        // A rewrite that keeps every byte already read is an append.
                        let read = usize::try_from(tail.read_pos).unwrap();
                        let kept = s.as_bytes().get(..read).is_some_and(|b| Some(b) == content.as_bytes().get(..read));
                        std::fs::write(&path, s.as_bytes()).unwrap();
                        if !kept && s.len() >= read && read > 0 {
                            // Only visible by its fingerprint: the next read starts over.
                            since_restart.clear();
                        }
                        content = s;
                        pending_read = true;
                    }
                    Op::Read => pending_read = true,
                }
                if std::mem::take(&mut pending_read) {
                    {
                        let mut got = Vec::new();
                        let mut restarted = false;
                        loop {
                            let o = tail.read_new(5, |l| got.push(String::from_utf8_lossy(l.bytes).into_owned())).unwrap();
                            restarted |= o.restarted;
                            if !o.more { break; }
                        }
                        if restarted {
                            since_restart.clear();
                        }
                        since_restart.extend(got);
                        let complete: Vec<String> = match content.rfind('\n') {
                            Some(end) => content[..end].split('\n').map(str::to_owned).collect(),
                            None => Vec::new(),
                        };
                        prop_assert_eq!(&since_restart, &complete);
                        let committed = content.rfind('\n').map_or(0, |e| e + 1) as u64;
                        prop_assert_eq!(tail.checkpoint().offset, committed);
                    }
                }
            }
        }
    }
}
