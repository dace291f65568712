-- 0001_initial: sessions, their event log, and tailer checkpoints.
--
-- `state_json` is the whole serialized `SessionState` and is what reads return; the other
-- columns of `sessions` copy the figures listings and reports filter and sort on. Times are
-- UTC milliseconds since the Unix epoch.

CREATE TABLE sessions (
    session_id            TEXT    NOT NULL PRIMARY KEY,
    status                TEXT    NOT NULL,
    mode                  TEXT    NOT NULL,
    source                TEXT    NOT NULL,
    started_at_ms         INTEGER NOT NULL,
    updated_at_ms         INTEGER NOT NULL,
    ended_at_ms           INTEGER,
    project_path          TEXT,
    cwd                   TEXT,
    model                 TEXT,
    -- NULL only if the figure was not a finite number.
    total_cost_usd        REAL,
    cost_source           TEXT    NOT NULL,
    duration_ms           INTEGER NOT NULL,
    duration_api_ms       INTEGER NOT NULL,
    num_turns             INTEGER NOT NULL,
    tokens_input          INTEGER NOT NULL,
    tokens_output         INTEGER NOT NULL,
    tokens_cache_read     INTEGER NOT NULL,
    tokens_cache_creation INTEGER NOT NULL,
    state_json            TEXT    NOT NULL
) STRICT;

-- Listings: newest first, optionally by status or project.
CREATE INDEX sessions_by_started ON sessions (started_at_ms DESC, session_id);
CREATE INDEX sessions_by_status ON sessions (status, started_at_ms DESC);
CREATE INDEX sessions_by_project ON sessions (project_path, started_at_ms DESC);

-- Append-only; `id` keeps the order events were written in.
CREATE TABLE events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id   TEXT    NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    at_ms        INTEGER NOT NULL,
    type         TEXT    NOT NULL,
    payload_json TEXT    NOT NULL
) STRICT;

CREATE INDEX events_by_session ON events (session_id, id);

-- How far each tailed file has been read, by file identity (dev, inode).
CREATE TABLE checkpoints (
    path          TEXT    NOT NULL PRIMARY KEY,
    dev           INTEGER NOT NULL,
    inode         INTEGER NOT NULL,
    "offset"      INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
) STRICT;
