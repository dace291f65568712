//! One monitor per data dir: an OS lock the kernel releases on any death, with a record of who
//! holds it.
//!
//! Two monitors on one database would store every event twice and fire every webhook twice. The
//! monitor (`cclive watch`, `cclive dashboard`, `cclive top`'s own) takes an exclusive `flock`
//! on `<database>.monitor` before it reads anything, and writes into that file its pid and the
//! URL it serves (none for `top`'s own monitor, which serves nothing). A `kill -9` releases the
//! lock with the process: there is no stale lock to clean up. Anyone else ([`running`]) learns
//! whether a monitor runs, and where, from the same file. [`claim`] is the one place a monitor
//! takes it. This file never starts or stops a monitor.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What the running monitor says of itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MonitorRecord {
    /// Its process.
    pub(crate) pid: u32,
    /// Where it serves the API and the dashboard (`http://127.0.0.1:8501/`), when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) url: Option<String>,
}

impl MonitorRecord {
    /// "pid 123 at http://…" or "pid 123 (cclive top's own, no address)", for messages.
    pub(crate) fn describe(&self) -> String {
        match &self.url {
            Some(url) => format!("pid {} at {url}", self.pid),
            None => format!("pid {}, serving no address (cclive top's own)", self.pid),
        }
    }

    /// `host:port` of its URL, for a client.
    pub(crate) fn addr(&self) -> Option<String> {
        let url = self.url.as_deref()?;
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        Some(rest.split('/').next().unwrap_or(rest).to_owned())
    }
}

/// The lock, held until dropped (or the process dies).
#[derive(Debug)]
pub(crate) struct MonitorLock {
    file: File,
    record: MonitorRecord,
}

impl MonitorLock {
    /// Records where this monitor serves, once it listens.
    pub(crate) fn set_url(&mut self, url: &str) -> io::Result<()> {
        self.record.url = Some(url.to_owned());
        write_record(&mut self.file, &self.record)
    }
}

/// Either the lock, or who holds it.
#[derive(Debug)]
pub(crate) enum Claim {
    /// This process is the monitor now.
    Acquired(MonitorLock),
    /// Another one is (its record, when it could be read).
    Held(Option<MonitorRecord>),
}

/// The lock file of the database at `db`.
pub(crate) fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".monitor");
    db.with_file_name(name)
}

/// Takes the monitor lock for the database at `db`, or says who holds it.
pub(crate) fn claim(db: &Path) -> io::Result<Claim> {
    let path = lock_path(db);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok(Claim::Held(read_record(&mut file))),
        Err(TryLockError::Error(e)) => return Err(e),
    }
    let record = MonitorRecord {
        pid: std::process::id(),
        url: None,
    };
    write_record(&mut file, &record)?;
    Ok(Claim::Acquired(MonitorLock { file, record }))
}

/// The running monitor of the database at `db`, if one holds the lock.
pub(crate) fn running(db: &Path) -> Option<MonitorRecord> {
    let mut file = File::open(lock_path(db)).ok()?;
    // Taken (shared, released with the file): nobody holds it, no monitor.
    if !matches!(file.try_lock_shared(), Err(TryLockError::WouldBlock)) {
        return None;
    }
    Some(read_record(&mut file).unwrap_or_default()).filter(|r| r.pid != 0)
}

fn read_record(file: &mut File) -> Option<MonitorRecord> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

fn write_record(file: &mut File, record: &MonitorRecord) -> io::Result<()> {
    let text = serde_json::to_vec(record).map_err(io::Error::other)?;
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&text)?;
    file.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_claim_on_one_database_names_the_first_and_a_release_frees_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("cclive.db");
        assert_eq!(running(&db), None);
        let Claim::Acquired(mut lock) = claim(&db).unwrap() else {
            panic!("the first claim wins");
        };
        lock.set_url("http://127.0.0.1:8501/").unwrap();
        let Claim::Held(Some(holder)) = claim(&db).unwrap() else {
            panic!("a second monitor on the same database is refused");
        };
        assert_eq!(holder.pid, std::process::id());
        assert_eq!(holder.addr().as_deref(), Some("127.0.0.1:8501"));
        assert_eq!(running(&db), Some(holder));
        drop(lock);
        assert_eq!(running(&db), None, "released with its holder");
        assert!(matches!(claim(&db).unwrap(), Claim::Acquired(_)));
    }

    #[test]
    fn another_database_has_its_own_lock() {
        let dir = tempfile::tempdir().unwrap();
        let _a = claim(&dir.path().join("a.db")).unwrap();
        assert!(matches!(
            claim(&dir.path().join("b.db")).unwrap(),
            Claim::Acquired(_)
        ));
    }
}
