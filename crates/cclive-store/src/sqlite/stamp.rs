//! [`SqliteStore::commit_stamp`]: whether a database file may have taken a commit since an
//! earlier look, told from its files alone, without opening it (a connection costs a status
//! line most of its time: the WAL index set up, the schema parsed, the files removed again).
//! It owns what that needs to know of `SQLite`'s file layout (the `-wal` and `-shm` files, the
//! WAL index header of <https://sqlite.org/walformat.html>); it never opens a connection or
//! writes a byte.

use std::fs::File;
use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::io::{ErrorKind, Read as _};
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use super::{SqliteStore, side_file};

/// Both copies of the WAL index header at the start of the `-shm` file.
const SHM_HEADERS: usize = 96;

impl SqliteStore {
    /// A number that changes whenever a transaction commits to the database at `path`
    /// (`None` when that cannot be told: a file that cannot be read, a header being written).
    /// Reading the database leaves it as it is, and so does opening and closing it.
    ///
    /// A commit always writes frames to the `-wal` file and moves the WAL index header in the
    /// `-shm` file on (its last frame, the frame's checksum); a checkpoint writes the database
    /// file itself, which is all that is left once the last connection has closed and
    /// checkpointed (a small WAL stays for the next connection: `SqliteStore`'s `Drop`). So
    /// the stamp hashes the database file's identity, size and modification time, the `-wal`
    /// file's, and what the `-shm` file's header says of the WAL's content. Not the header's
    /// change counter: the first connection to open a WAL left behind rebuilds the header, the
    /// same but for that counter. Not the `-shm` file's time, nor anyone's change time: readers
    /// write their marks into the `-shm` file, and `SQLite` running as root chowns both files
    /// to their owner on every open.
    ///
    /// A symlink is followed, as `SQLite` follows it: its side files are beside the real file.
    pub fn commit_stamp(path: &Path) -> Option<u64> {
        let real = match std::fs::canonicalize(path) {
            Ok(real) => real,
            Err(e) if e.kind() == ErrorKind::NotFound => path.to_owned(),
            Err(_) => return None,
        };
        let mut hasher = DefaultHasher::new();
        file_identity(&real)?.hash(&mut hasher);
        file_identity(&side_file(&real, "-wal"))?.hash(&mut hasher);
        shm_header(&side_file(&real, "-shm"))?.hash(&mut hasher);
        Some(hasher.finish())
    }
}

/// What the stamp takes from one file.
#[derive(Hash)]
enum Seen {
    /// It is not there.
    Absent,
    /// Device, inode, size and modification time (seconds, nanoseconds).
    File(u64, u64, u64, i64, i64),
    /// The WAL index header.
    Header(Vec<u8>),
}

/// The file's identity, size and modification time; `None` when it cannot be read.
fn file_identity(path: &Path) -> Option<Seen> {
    match std::fs::metadata(path) {
        Ok(m) => Some(Seen::File(
            m.dev(),
            m.ino(),
            m.size(),
            m.mtime(),
            m.mtime_nsec(),
        )),
        Err(e) if e.kind() == ErrorKind::NotFound => Some(Seen::Absent),
        Err(_) => None,
    }
}

/// Where the WAL index header's fields that name the WAL's content start and end: `mxFrame`,
/// `nPage`, `aFrameCksum` and `aSalt` (<https://sqlite.org/walformat.html>); before them the
/// version, the change counter and the page size, after them the header's own checksum.
const CONTENT_FIELDS: std::ops::Range<usize> = 16..40;

/// The WAL index header's [`CONTENT_FIELDS`] (the file's first bytes when it is shorter than
/// both copies of the header); `None` when it cannot be read or its two copies differ (a commit
/// is writing it).
fn shm_header(path: &Path) -> Option<Seen> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Some(Seen::Absent),
        Err(_) => return None,
    };
    let mut header = Vec::with_capacity(SHM_HEADERS);
    file.take(SHM_HEADERS as u64)
        .read_to_end(&mut header)
        .ok()?;
    let half = SHM_HEADERS / 2;
    if header.len() < SHM_HEADERS {
        return Some(Seen::Header(header));
    }
    if header[..half] != header[half..] {
        return None;
    }
    Some(Seen::Header(header[CONTENT_FIELDS].to_vec()))
}

#[cfg(test)]
mod tests {
    use cclive_core::{SessionId, SessionState};
    use jiff::Timestamp;

    use super::*;
    use crate::{Batch, Store as _};

    fn session(id: &str) -> Batch {
        Batch {
            sessions: vec![SessionState::new(
                SessionId::new(id),
                Timestamp::from_second(1_790_000_000).unwrap(),
            )],
            ..Batch::default()
        }
    }

    #[test]
    fn a_commit_changes_the_stamp_and_reading_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cclive.db");
        assert_eq!(
            SqliteStore::commit_stamp(&path),
            SqliteStore::commit_stamp(&path),
            "no file yet: a stamp all the same"
        );
        SqliteStore::open(&path)
            .unwrap()
            .write(&session("a"))
            .unwrap();

        // No connection open: the database file, and the small WAL its writer left.
        let closed = SqliteStore::commit_stamp(&path).unwrap();
        let reader = SqliteStore::open(&path).unwrap();
        reader.sessions(&crate::SessionQuery::default()).unwrap();
        drop(reader);
        assert_eq!(SqliteStore::commit_stamp(&path), Some(closed), "read");
        SqliteStore::open(&path)
            .unwrap()
            .write(&session("b"))
            .unwrap();
        let after = SqliteStore::commit_stamp(&path).unwrap();
        assert_ne!(after, closed, "a commit by a connection since closed");

        // A connection that stays open (a monitor): commits land in the WAL.
        let monitor = SqliteStore::open(&path).unwrap();
        let open = SqliteStore::commit_stamp(&path).unwrap();
        let reader = SqliteStore::open(&path).unwrap();
        reader.sessions(&crate::SessionQuery::default()).unwrap();
        drop(reader);
        assert_eq!(SqliteStore::commit_stamp(&path), Some(open), "read");
        let mut seen = vec![open];
        for id in ["c", "d", "e"] {
            monitor.write(&session(id)).unwrap();
            let now = SqliteStore::commit_stamp(&path).unwrap();
            assert!(!seen.contains(&now), "commit {id}: a stamp not seen before");
            seen.push(now);
        }
    }

    /// Through a symlink `SQLite` writes its WAL beside the real file: a commit there changes
    /// the stamp of the link.
    #[test]
    fn a_commit_behind_a_symlink_changes_the_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.db");
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let monitor = SqliteStore::open(&link).unwrap();
        monitor.write(&session("a")).unwrap();
        assert!(
            side_file(&real, "-wal").exists(),
            "the WAL is beside the real file"
        );
        let before = SqliteStore::commit_stamp(&link).unwrap();
        monitor.write(&session("b")).unwrap();
        assert_ne!(SqliteStore::commit_stamp(&link), Some(before));
    }

    #[test]
    fn a_header_being_written_gives_no_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cclive.db");
        std::fs::write(&path, b"").unwrap();
        let mut shm = vec![1_u8; SHM_HEADERS];
        std::fs::write(side_file(&path, "-shm"), &shm).unwrap();
        assert!(SqliteStore::commit_stamp(&path).is_some());
        shm[60] = 2;
        std::fs::write(side_file(&path, "-shm"), &shm).unwrap();
        assert_eq!(SqliteStore::commit_stamp(&path), None);
    }
}
