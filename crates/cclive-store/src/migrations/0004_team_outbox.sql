-- 0004_team_outbox: what a team agent still has to forward to `cclive server`.
--
-- `team_agent` holds at most one row: this database's machine id (a team server tells machines
-- apart by it, so a copied database is a copy of the machine), whether the outbox is being
-- filled, and what the uploader last heard from the server. With no row, or `enabled = 0`, the
-- triggers below do nothing beyond one lookup of this tiny table: a user without team mode pays
-- (almost) nothing.
CREATE TABLE team_agent (
    id                 INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    machine_id         TEXT    NOT NULL,
    enabled            INTEGER NOT NULL,
    -- The highest outbox `seq` the server acknowledged (rows up to it are pruned).
    acked_seq          INTEGER NOT NULL DEFAULT 0,
    last_contact_at_ms INTEGER,
    last_error         TEXT,
    last_error_at_ms   INTEGER
) STRICT;

-- One row per entity that changed since the server last acknowledged it: `kind` is 'session'
-- (key = session_id), 'usage' (key = the usage key; the row's absence means the key was
-- retired) or 'event' (key = events.id). A change deletes the entity's row and appends a new
-- one, so `seq` (AUTOINCREMENT: never reused) only grows, an entity is pending at most once and
-- a cursor "everything up to seq N is on the server" stays true. The rows are written by the
-- triggers below, so they are in the SAME transaction as the data whoever writes it.
CREATE TABLE outbox (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT    NOT NULL,
    key  TEXT    NOT NULL
) STRICT;

CREATE UNIQUE INDEX outbox_by_entity ON outbox (kind, key);

-- "This entity changed": the one place the rule lives. Inserting ('kind', 'key') here moves the
-- entity's pending entry (if any) to the end of the outbox with a new seq.
CREATE VIEW outbox_touch (kind, key) AS SELECT kind, key FROM outbox;

CREATE TRIGGER outbox_touch_insert INSTEAD OF INSERT ON outbox_touch
BEGIN
    DELETE FROM outbox WHERE kind = NEW.kind AND key = NEW.key;
    INSERT INTO outbox (kind, key) VALUES (NEW.kind, NEW.key);
END;

-- Each guard is one lookup of the one-row `team_agent` table.
CREATE TRIGGER outbox_session_insert AFTER INSERT ON sessions
WHEN EXISTS (SELECT 1 FROM team_agent WHERE enabled = 1)
BEGIN
    INSERT INTO outbox_touch VALUES ('session', NEW.session_id);
END;

CREATE TRIGGER outbox_session_update AFTER UPDATE ON sessions
WHEN NEW.state_json IS NOT OLD.state_json
    AND EXISTS (SELECT 1 FROM team_agent WHERE enabled = 1)
BEGIN
    INSERT INTO outbox_touch VALUES ('session', NEW.session_id);
END;

CREATE TRIGGER outbox_usage_insert AFTER INSERT ON usage
WHEN EXISTS (SELECT 1 FROM team_agent WHERE enabled = 1)
BEGIN
    INSERT INTO outbox_touch VALUES ('usage', NEW.key);
END;

-- A report that changes nothing (the same response read again) queues nothing.
CREATE TRIGGER outbox_usage_update AFTER UPDATE ON usage
WHEN (NEW.session_id, NEW.at_ms, NEW.model, NEW.input, NEW.output, NEW.cache_read,
        NEW.cache_creation, NEW.sidechain)
    IS NOT (OLD.session_id, OLD.at_ms, OLD.model, OLD.input, OLD.output, OLD.cache_read,
        OLD.cache_creation, OLD.sidechain)
    AND EXISTS (SELECT 1 FROM team_agent WHERE enabled = 1)
BEGIN
    INSERT INTO outbox_touch VALUES ('usage', NEW.key);
END;

-- A retired key: forwarded as such (its row is gone when the uploader reads it).
CREATE TRIGGER outbox_usage_delete AFTER DELETE ON usage
WHEN EXISTS (SELECT 1 FROM team_agent WHERE enabled = 1)
BEGIN
    INSERT INTO outbox_touch VALUES ('usage', OLD.key);
END;

-- Events are append-only: each is new.
CREATE TRIGGER outbox_event_insert AFTER INSERT ON events
WHEN EXISTS (SELECT 1 FROM team_agent WHERE enabled = 1)
BEGIN
    INSERT INTO outbox (kind, key) VALUES ('event', CAST(NEW.id AS TEXT));
END;
