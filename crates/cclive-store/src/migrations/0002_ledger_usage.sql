-- 0002_ledger_usage: each session's ledger, and the usage of every API response.
--
-- `sessions.ledger_json` is `SessionState::ledger_json()`, the working memory that lets a session
-- read back after a restart go on folding events without counting any twice. It is NULL for
-- sessions written before this version (they come back without one, as they did then).
ALTER TABLE sessions ADD COLUMN ledger_json TEXT;

-- One row per API response (`key` is its message id), whichever session or source reported it:
-- the history reports by day and model are built from, which must outlive Claude Code deleting
-- transcripts after 30 days. The owner (`session_id`, `at_ms`) is where the response was first
-- seen. There is deliberately no foreign key to `sessions`: an import writes usage beside the
-- states of the same batch, a response may name a session stored long before, and a report must
-- not lose usage because a session row was never written or was removed.
CREATE TABLE usage (
    key            TEXT    NOT NULL PRIMARY KEY,
    session_id     TEXT    NOT NULL,
    at_ms          INTEGER NOT NULL,
    model          TEXT,
    input          INTEGER NOT NULL,
    output         INTEGER NOT NULL,
    cache_read     INTEGER NOT NULL,
    cache_creation INTEGER NOT NULL,
    -- 1 when only sub-agents (sidechains) reported the response.
    sidechain      INTEGER NOT NULL
) STRICT;

CREATE INDEX usage_by_session ON usage (session_id);
CREATE INDEX usage_by_time ON usage (at_ms);

-- `checkpoints` (from 0001) is unchanged. Its `dev` and `inode` hold the u64 values' bits as
-- i64 (values above i64::MAX come out negative), so a file's identity reads back exactly.
