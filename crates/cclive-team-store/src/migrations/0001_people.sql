-- 0001_people: teams, users with roles, their tokens (hashed), budgets, and agents' machines.
--
-- Times are UTC milliseconds since the Unix epoch (BIGINT). Standard SQL only: managed
-- PostgreSQL must work as it is (no extensions).

CREATE TABLE teams (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT   NOT NULL UNIQUE,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    email         TEXT   NOT NULL UNIQUE,
    team_id       BIGINT NOT NULL REFERENCES teams (id),
    role          TEXT   NOT NULL CHECK (role IN ('member', 'lead', 'admin')),
    created_at_ms BIGINT NOT NULL,
    -- Set when the user is revoked: every token of theirs is refused from then on.
    revoked_at_ms BIGINT
);

CREATE INDEX users_by_team ON users (team_id);

-- A token is `cct_<id>_<secret>`; only the SHA-256 of the secret is kept.
CREATE TABLE tokens (
    id            TEXT   PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES users (id),
    secret_sha256 BYTEA  NOT NULL,
    created_at_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT
);

CREATE INDEX tokens_by_user ON tokens (user_id);

-- Monthly budgets, per team or per user (exactly one of the two).
CREATE TABLE budgets (
    id          BIGSERIAL PRIMARY KEY,
    team_id     BIGINT REFERENCES teams (id),
    user_id     BIGINT REFERENCES users (id),
    monthly_usd DOUBLE PRECISION NOT NULL CHECK (monthly_usd >= 0),
    CHECK ((team_id IS NULL) <> (user_id IS NULL)),
    UNIQUE (team_id),
    UNIQUE (user_id)
);

-- Each agent's machine: bound to the user whose token first pushed from it, with the outbox
-- cursor the server acknowledged (only ever moves forward).
CREATE TABLE machines (
    id              TEXT   PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES users (id),
    hostname        TEXT   NOT NULL,
    agent_version   TEXT   NOT NULL,
    acked_seq       BIGINT NOT NULL DEFAULT 0,
    -- The agent's highest outbox seq, as it last said (backlog = outbox_head - acked_seq).
    outbox_head     BIGINT,
    first_seen_ms   BIGINT NOT NULL,
    last_contact_ms BIGINT NOT NULL
);

CREATE INDEX machines_by_user ON machines (user_id);
