-- A session's start, and each of its tool calls and results, is kept once in its events,
-- whichever writer reported it first: a monitor, `cclive run` writing on its own while no monitor
-- answered, an import. Each writer folds its own view, so only the store can tell that another
-- one already kept the same fact. Duplicates kept before this version go (the first stays).
DELETE FROM events
WHERE type IN ('tool_use', 'tool_result')
  AND id NOT IN (
    SELECT min(id) FROM events
    WHERE type IN ('tool_use', 'tool_result')
    GROUP BY session_id, type, json_extract(payload_json, '$.tool_use_id')
  );

DELETE FROM events
WHERE type = 'session_started'
  AND id NOT IN (SELECT min(id) FROM events WHERE type = 'session_started' GROUP BY session_id);

CREATE UNIQUE INDEX events_once_per_tool_call
    ON events (session_id, type, json_extract(payload_json, '$.tool_use_id'))
    WHERE type IN ('tool_use', 'tool_result');

CREATE UNIQUE INDEX events_one_start ON events (session_id) WHERE type = 'session_started';

-- The integrations' notices (a session's start, its end) claimed by the process that fires them:
-- a monitor and a `cclive run` writing on its own both see the same session end, and a restarted
-- monitor may see again what its killed predecessor announced; the first claim fires, once.
CREATE TABLE notices (
    session_id TEXT    NOT NULL,
    notice     TEXT    NOT NULL,
    at_ms      INTEGER NOT NULL,
    PRIMARY KEY (session_id, notice)
) STRICT;
