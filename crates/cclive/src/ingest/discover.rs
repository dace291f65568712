//! Finding transcripts: every `*.jsonl` under each Claude config dir's `projects/`, sub-agent
//! files (`<session>/subagents/agent-*.jsonl`) included, at any depth.
//!
//! Symlinks are not followed (a loop must not hang discovery); unreadable folders are skipped
//! and reported, never fatal.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// A transcript found on disk, as the walk's one `stat` of it saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// Its path.
    pub path: PathBuf,
    /// Its size in bytes when found.
    pub size: u64,
    /// The device it is on (0 when it could not be read).
    pub dev: u64,
    /// Its inode (0 when it could not be read).
    pub inode: u64,
}

/// Every transcript under `config_dirs`, largest first (so parallel readers finish together),
/// and the folders that could not be read.
pub fn transcripts(config_dirs: &[PathBuf]) -> (Vec<Found>, Vec<(PathBuf, std::io::Error)>) {
    let found = Mutex::new(Vec::new());
    let errors = each(config_dirs, &|f| {
        found.lock().unwrap_or_else(PoisonError::into_inner).push(f);
    });
    let mut found = found.into_inner().unwrap_or_else(PoisonError::into_inner);
    found.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.path.cmp(&b.path)));
    (found, errors)
}

/// Hands every transcript under `config_dirs` to `on_found` as the walk finds it (on the walk's
/// threads, in no particular order), and returns the folders that could not be read, sorted.
///
/// The project folders are walked on as many threads as there are cores: with a history of
/// thousands of sessions, the walk's `getdents` and `stat`s are most of what an import with
/// nothing new costs. An import reads what the walk has found while it goes on.
pub fn each(
    config_dirs: &[PathBuf],
    on_found: &(dyn Fn(Found) + Sync),
) -> Vec<(PathBuf, std::io::Error)> {
    let mut errors = Vec::new();
    // The folders under each `projects/` (one per project), walked below in parallel; files
    // directly in `projects/` are taken here.
    let mut folders = Vec::new();
    for dir in config_dirs {
        let projects = dir.join("projects");
        if projects.is_dir() {
            list(&projects, &mut folders, on_found, &mut errors);
        }
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(folders.len());
    if threads <= 1 {
        for folder in &folders {
            walk(folder, on_found, &mut errors);
        }
    } else {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let parts: Vec<_> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut errors = Vec::new();
                        while let Some(folder) =
                            folders.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                        {
                            walk(folder, on_found, &mut errors);
                        }
                        errors
                    })
                })
                .collect();
            // A walker has nothing to panic on (what it cannot read is an error it reports);
            // were one to, its panic goes on here rather than its share of files going missing.
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        errors.extend(parts.into_iter().flatten());
    }
    errors.sort_by(|a, b| a.0.cmp(&b.0));
    errors
}

/// Every transcript under `folder` (a folder inside a config dir's `projects/`, e.g. a new
/// project's or a session's sub-agents), at any depth; what cannot be read is skipped.
pub fn under(folder: &Path) -> Vec<Found> {
    let found = Mutex::new(Vec::new());
    walk(
        folder,
        &|f| found.lock().unwrap_or_else(PoisonError::into_inner).push(f),
        &mut Vec::new(),
    );
    found.into_inner().unwrap_or_else(PoisonError::into_inner)
}

/// True when `path` is a transcript by name (`*.jsonl`).
pub fn is_transcript(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "jsonl")
}

/// Walks `dir`: its sub-folders recursively, its transcripts to `on_found`.
fn walk(
    dir: &Path,
    on_found: &(dyn Fn(Found) + Sync),
    errors: &mut Vec<(PathBuf, std::io::Error)>,
) {
    let mut folders = Vec::new();
    list(dir, &mut folders, on_found, errors);
    for folder in &folders {
        walk(folder, on_found, errors);
    }
}

/// The entries of `dir` alone: sub-folders into `folders`, transcripts to `on_found`.
fn list(
    dir: &Path,
    folders: &mut Vec<PathBuf>,
    on_found: &(dyn Fn(Found) + Sync),
    errors: &mut Vec<(PathBuf, std::io::Error)>,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push((dir.to_path_buf(), e));
            return;
        }
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_dir() {
            folders.push(path);
        } else if kind.is_file() && is_transcript(&path) {
            // Relative to the open folder: cheaper than a stat of the whole path, and the only
            // one an unchanged file gets (an import compares it with the checkpoint).
            let (size, dev, inode) = entry
                .metadata()
                .map_or((0, 0, 0), |m| (m.len(), m.dev(), m.ino()));
            on_found(Found {
                path,
                size,
                dev,
                inode,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_main_and_sub_agent_transcripts_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("projects/-home-me-app");
        std::fs::create_dir_all(p.join("s1/subagents")).unwrap();
        std::fs::create_dir_all(p.join("s1/tool-results")).unwrap();
        std::fs::write(p.join("s1.jsonl"), "{}\n{}\n").unwrap();
        std::fs::write(p.join("s1/subagents/agent-a1.jsonl"), "{}\n").unwrap();
        std::fs::write(p.join("s1/subagents/agent-a1.meta.json"), "{}").unwrap();
        std::fs::write(p.join("s1/tool-results/toolu_1.json"), "{}").unwrap();
        std::os::unix::fs::symlink(dir.path(), p.join("loop")).unwrap();
        let (found, errors) = transcripts(&[dir.path().to_path_buf(), dir.path().join("missing")]);
        assert!(errors.is_empty());
        let names: Vec<_> = found
            .iter()
            .map(|f| f.path.strip_prefix(&p).unwrap().to_path_buf())
            .collect();
        assert_eq!(
            names,
            [
                PathBuf::from("s1.jsonl"),
                PathBuf::from("s1/subagents/agent-a1.jsonl")
            ]
        );
        // The same below one project's folder, and below a session's.
        let mut under_project: Vec<_> = under(&p).into_iter().map(|f| f.path).collect();
        under_project.sort();
        // (Paths sort by component: `s1` before `s1.jsonl`.)
        assert_eq!(
            under_project,
            [p.join("s1/subagents/agent-a1.jsonl"), p.join("s1.jsonl")]
        );
        let under_session: Vec<_> = under(&p.join("s1")).into_iter().map(|f| f.path).collect();
        assert_eq!(under_session, [p.join("s1/subagents/agent-a1.jsonl")]);
    }
}
