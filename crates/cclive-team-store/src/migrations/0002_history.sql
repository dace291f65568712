-- 0002_history: what agents push: sessions, per-response usage, events.

-- A session as one machine saw it, replaced only by a higher revision from that machine.
CREATE TABLE sessions (
    machine_id            TEXT   NOT NULL REFERENCES machines (id),
    session_id            TEXT   NOT NULL,
    user_id               BIGINT NOT NULL REFERENCES users (id),
    revision              BIGINT NOT NULL,
    status                TEXT   NOT NULL,
    mode                  TEXT   NOT NULL,
    source                TEXT   NOT NULL,
    started_at_ms         BIGINT NOT NULL,
    updated_at_ms         BIGINT NOT NULL,
    ended_at_ms           BIGINT,
    project               TEXT,
    cwd                   TEXT,
    model                 TEXT,
    waiting_for           TEXT,
    total_cost_usd        DOUBLE PRECISION NOT NULL,
    cost_source           TEXT   NOT NULL,
    duration_ms           BIGINT NOT NULL,
    duration_api_ms       BIGINT NOT NULL,
    num_turns             BIGINT NOT NULL,
    tokens_input          BIGINT NOT NULL,
    tokens_output         BIGINT NOT NULL,
    tokens_cache_read     BIGINT NOT NULL,
    tokens_cache_creation BIGINT NOT NULL,
    api_requests          BIGINT NOT NULL,
    claude_version        TEXT,
    title                 TEXT,
    last_prompt           TEXT,
    command               TEXT,
    received_at_ms        BIGINT NOT NULL,
    PRIMARY KEY (machine_id, session_id)
);

CREATE INDEX sessions_by_status ON sessions (status, updated_at_ms DESC);
CREATE INDEX sessions_by_user ON sessions (user_id, started_at_ms DESC);

-- One row per API response server-wide (`message_id`), merged with the local history's rule:
-- field-wise maximum of the tokens, the model kept once known, sidechain only while every report
-- says so, and the owner (user, machine, session, first_seen_ms) of the earliest report.
CREATE TABLE usage (
    message_id     TEXT    PRIMARY KEY,
    user_id        BIGINT  NOT NULL REFERENCES users (id),
    machine_id     TEXT    NOT NULL,
    session_id     TEXT    NOT NULL,
    first_seen_ms  BIGINT  NOT NULL,
    model          TEXT,
    input          BIGINT  NOT NULL,
    output         BIGINT  NOT NULL,
    cache_read     BIGINT  NOT NULL,
    cache_creation BIGINT  NOT NULL,
    sidechain      BOOLEAN NOT NULL
);

CREATE INDEX usage_by_time ON usage (first_seen_ms);
CREATE INDEX usage_by_user_time ON usage (user_id, first_seen_ms);

-- Append-only per machine: (machine_id, event_id) makes a re-sent event a no-op.
CREATE TABLE events (
    machine_id TEXT   NOT NULL REFERENCES machines (id),
    event_id   TEXT   NOT NULL,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    session_id TEXT   NOT NULL,
    at_ms      BIGINT NOT NULL,
    kind       TEXT   NOT NULL,
    data       JSONB  NOT NULL,
    PRIMARY KEY (machine_id, event_id)
);

CREATE INDEX events_by_session ON events (session_id, at_ms);
