-- 0012_ledger_journal: a session's ledger moves out of its `sessions` row, into its last whole
-- text (`ledgers`) and the deltas written since (`ledger_deltas`), applied in `seq` order.
--
-- Why: a long session's ledger is hundreds of KB, and every write of the session rewrote it.
-- In the row, even an unchanged ledger was copied again with the row (SQLite rewrites a whole
-- row, its overflow pages too, when it grows or shrinks); rewritten whole, a change cost what
-- the session holds. Now the row stays small, and a writer that knows the stored ledger (it
-- wrote it at `ledger_seq`) appends what changed, writing it whole again (dropping the deltas)
-- once they would outgrow it.
--
-- `sessions.ledger_seq` counts the session's ledger writes: a whole text or a delta each raise
-- it by one, and a delta's `seq` is the `ledger_seq` it brought the row to. A writer checks it
-- in its transaction: another writer's change in between makes it write the whole ledger.
-- `sessions.ledger_json` stays, always NULL from here on (a column cannot go without a rewrite
-- of the table; `cclive recover` moves what an older file holds there).
ALTER TABLE sessions ADD COLUMN ledger_seq INTEGER NOT NULL DEFAULT 0;

-- Rowid tables (not WITHOUT ROWID): `cclive recover` reads tables in rowid order.
CREATE TABLE ledgers (
    session_id TEXT NOT NULL PRIMARY KEY REFERENCES sessions (session_id) ON DELETE CASCADE,
    whole_json TEXT NOT NULL
) STRICT;

CREATE TABLE ledger_deltas (
    session_id TEXT    NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    delta_json TEXT    NOT NULL,
    UNIQUE (session_id, seq)
) STRICT;

INSERT INTO ledgers (session_id, whole_json)
    SELECT session_id, ledger_json FROM sessions WHERE ledger_json IS NOT NULL;
UPDATE sessions SET ledger_json = NULL WHERE ledger_json IS NOT NULL;
