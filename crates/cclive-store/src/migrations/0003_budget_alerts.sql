-- 0003_budget_alerts: budget alerts already raised, so each fires once per threshold per period.
--
-- The key is the alert's identity: `scope` ('global' or 'project:<key>'), `period` ('day',
-- 'week', 'month'), `period_key` (the window's local date or month, e.g. '2026-09-03') and
-- `threshold` (50, 80, 100). The monitor inserts every threshold it sees crossed and only an
-- insert that adds a row is announced, so a restarted monitor does not repeat an alert.
-- `alert_json` is the whole `cclive_core::budget::BudgetAlert`, for listings and sinks.
CREATE TABLE budget_alerts (
    scope       TEXT    NOT NULL,
    period      TEXT    NOT NULL,
    period_key  TEXT    NOT NULL,
    threshold   INTEGER NOT NULL,
    fired_at_ms INTEGER NOT NULL,
    alert_json  TEXT    NOT NULL,
    PRIMARY KEY (scope, period, period_key, threshold)
) STRICT;

CREATE INDEX budget_alerts_by_time ON budget_alerts (fired_at_ms);
