//! Following transcripts live: file-system notifications in, new lines out as events.
//!
//! Every Claude config dir is watched recursively (the `notify` crate: inotify here), so new
//! project folders and files are seen as they appear. A change to a `*.jsonl` reads that file's
//! new bytes through its [`FileTail`] and sends the events, then the checkpoint, to the monitor
//! (which stores the checkpoint with those events). A change under `sessions/` pokes the
//! liveness probe so busy/idle flips show at once. A new folder is read as it is reported and
//! again `NEW_DIR_RECHECK` later: `notify` reports a folder before it watches it, so what is
//! written there in between raises no notification (a new project's first session, a
//! session's first sub-agent: 27 of 300 files written into new folders at once waited for the
//! rescan). Notifications can be lost (queue overflow, a config dir created later), so a slow
//! rescan every [`RESCAN`] catches up; it is a safety net, not the mechanism.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cclive_server::IngestCounters;
use cclive_store::{Checkpoint, Store};
use notify::{RecursiveMode, Watcher};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::ingest::discover;
use crate::ingest::tail::FileTail;
use crate::ingest::transcripts::TranscriptReader;
use crate::monitor::pipeline::EventSink;

/// How often everything is rescanned in case a notification was lost.
pub const RESCAN: Duration = Duration::from_secs(30);
/// When a new folder is read again after it was reported (by then `notify` watches it).
const NEW_DIR_RECHECK: Duration = Duration::from_millis(500);
/// Bytes read from one file before yielding to others.
const READ_STEP: u64 = 4 * 1024 * 1024;

struct Followed {
    tail: FileTail,
    reader: TranscriptReader,
}

/// Follows every transcript under `config_dirs` until `cancel`, adding the lines, bytes and
/// malformed lines it reads to `counters` (`/metrics`, `cclive top`'s ingest figures).
pub async fn follow(
    config_dirs: Vec<PathBuf>,
    store: Arc<dyn Store>,
    sink: EventSink,
    poke_liveness: Arc<Notify>,
    cancel: CancellationToken,
    counters: IngestCounters,
) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel::<PathBuf>();
    let mut watcher =
        notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
            Ok(event) if changes_content(event.kind) => {
                for path in event.paths {
                    let _ = tx.send(path);
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("File watching reported an error: {e}"),
        })?;
    let mut dirs_watched: Vec<PathBuf> = Vec::new();
    let mut parents: Vec<PathBuf> = Vec::new();
    let checkpoints: HashMap<PathBuf, Checkpoint> = store
        .checkpoints()?
        .into_iter()
        .map(|c| (c.path.clone(), c))
        .collect();
    let mut files: HashMap<PathBuf, Followed> = HashMap::new();
    let mut rescan = tokio::time::interval(RESCAN);
    rescan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // New folders to read again, in the order they were reported (the same delay for each).
    let mut rechecks: VecDeque<(tokio::time::Instant, PathBuf)> = VecDeque::new();

    loop {
        let next_recheck = rechecks.front().map(|(at, _)| *at);
        tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            () = tokio::time::sleep_until(next_recheck.unwrap_or_else(tokio::time::Instant::now)),
                if next_recheck.is_some() => {
                let now = tokio::time::Instant::now();
                while let Some((_, dir)) = rechecks.pop_front_if(|(at, _)| *at <= now) {
                    let found = if config_dirs.contains(&dir) {
                        discover::transcripts(std::slice::from_ref(&dir)).0
                    } else {
                        discover::under(&dir)
                    };
                    for f in found {
                        read_file(&f.path, &mut files, &checkpoints, &sink, &counters).await;
                    }
                }
            }
            _ = rescan.tick() => {
                watch_new_dirs(&mut watcher, &config_dirs, &mut dirs_watched, &mut parents);
                let (found, _) = discover::transcripts(&config_dirs);
                for f in found {
                    // The walk's `stat` tells a followed file read to its end: no second one.
                    if files
                        .get(&f.path)
                        .is_some_and(|known| known.tail.up_to_date_at(f.dev, f.inode, f.size))
                    {
                        continue;
                    }
                    read_file(&f.path, &mut files, &checkpoints, &sink, &counters).await;
                }
            }
            received = rx.recv() => {
                let Some(first) = received else { return Ok(()) };
                let mut paths = vec![first];
                while let Ok(more) = rx.try_recv() {
                    paths.push(more);
                }
                paths.sort();
                paths.dedup();
                for path in paths {
                    if config_dirs.contains(&path) {
                        // A config dir that did not exist yet (claude's first run creates it).
                        watch_new_dirs(&mut watcher, &config_dirs, &mut dirs_watched, &mut parents);
                        let (found, _) = discover::transcripts(std::slice::from_ref(&path));
                        for f in found {
                            read_file(&f.path, &mut files, &checkpoints, &sink, &counters).await;
                        }
                        rechecks.push_back((tokio::time::Instant::now() + NEW_DIR_RECHECK, path));
                        poke_liveness.notify_one();
                    } else if discover::is_transcript(&path) && in_projects(&config_dirs, &path) {
                        read_file(&path, &mut files, &checkpoints, &sink, &counters).await;
                        // A session may have started or moved on: let the probe look at once.
                        poke_liveness.notify_one();
                    } else if path.components().any(|c| c.as_os_str() == "sessions") {
                        poke_liveness.notify_one();
                    } else if path.is_dir() && in_projects(&config_dirs, &path) {
                        // A new folder (e.g. a project's first session): what is in it already,
                        // and again once it is watched. (A walk of config dirs would find
                        // nothing here: this is a folder inside one.)
                        for f in discover::under(&path) {
                            read_file(&f.path, &mut files, &checkpoints, &sink, &counters).await;
                        }
                        rechecks.push_back((tokio::time::Instant::now() + NEW_DIR_RECHECK, path));
                    }
                }
            }
        }
    }
}

/// True when `path` is a config dir's `projects/` or inside it, where transcripts are.
fn in_projects(config_dirs: &[PathBuf], path: &Path) -> bool {
    config_dirs
        .iter()
        .any(|dir| path.starts_with(dir.join("projects")))
}

/// True for a notification that something was created, written, renamed or removed. Opening
/// or reading a file or folder is not news: the liveness probe's own look into `sessions/`
/// (inotify's `IN_OPEN|IN_ISDIR`) would otherwise poke the probe again, which looks again, …,
/// waking an idle monitor ten times a second.
fn changes_content(kind: notify::EventKind) -> bool {
    use notify::EventKind;
    use notify::event::{AccessKind, AccessMode};
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// Watches each config dir recursively; one that does not exist yet is waited for by watching
/// its parent (not recursively: only its creation matters).
fn watch_new_dirs(
    watcher: &mut notify::RecommendedWatcher,
    dirs: &[PathBuf],
    dirs_watched: &mut Vec<PathBuf>,
    parents: &mut Vec<PathBuf>,
) {
    for dir in dirs {
        if dirs_watched.contains(dir) {
            continue;
        }
        if dir.is_dir() {
            match watcher.watch(dir, RecursiveMode::Recursive) {
                Ok(()) => dirs_watched.push(dir.clone()),
                Err(e) => tracing::warn!(dir = %dir.display(), "Cannot watch: {e}"),
            }
        } else if let Some(parent) = dir.parent().filter(|p| p.is_dir())
            && !parents.iter().any(|p| p == parent)
            && watcher.watch(parent, RecursiveMode::NonRecursive).is_ok()
        {
            parents.push(parent.to_path_buf());
        }
    }
}

async fn read_file(
    path: &Path,
    files: &mut HashMap<PathBuf, Followed>,
    checkpoints: &HashMap<PathBuf, Checkpoint>,
    sink: &EventSink,
    counters: &IngestCounters,
) {
    if !files.contains_key(path) {
        let Ok(tail) = FileTail::open(path, checkpoints.get(path)) else {
            return;
        };
        files.insert(
            path.to_path_buf(),
            Followed {
                reader: TranscriptReader::new(path),
                tail,
            },
        );
    }
    let Some(f) = files.get_mut(path) else { return };
    if f.tail.up_to_date() {
        return;
    }
    loop {
        let mut events = Vec::new();
        let now = jiff::Timestamp::now();
        let Followed { tail, reader } = f;
        let (lines, malformed) = (reader.lines, reader.malformed);
        let outcome = match tail.read_new(READ_STEP, |line| reader.line(line, now, &mut events)) {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(path = %path.display(), "Cannot read a transcript: {e}");
                return;
            }
        };
        if !outcome.more {
            reader.end_of_data(outcome.modified, &mut events);
        }
        counters.add(
            reader.lines.saturating_sub(lines),
            outcome.bytes,
            reader.malformed.saturating_sub(malformed),
        );
        if outcome.restarted {
            tracing::info!(path = %path.display(), "Transcript shrank or was replaced; reading it again.");
        }
        for event in events {
            if !sink.send(event).await {
                return;
            }
        }
        if outcome.bytes > 0 {
            sink.checkpoint(f.tail.checkpoint()).await;
        }
        if !outcome.more {
            return;
        }
        tokio::task::yield_now().await;
    }
}
