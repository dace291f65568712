-- 0003_budget_alerts: team budget alerts already raised, so each fires once per threshold per
-- month (several server replicas may check at once: the primary key decides who announces).
CREATE TABLE budget_alerts (
    -- 'team:<name>' or 'user:<email>'.
    scope       TEXT    NOT NULL,
    -- The month, e.g. '2026-12'.
    period_key  TEXT    NOT NULL,
    threshold   INTEGER NOT NULL,
    fired_at_ms BIGINT  NOT NULL,
    PRIMARY KEY (scope, period_key, threshold)
);
