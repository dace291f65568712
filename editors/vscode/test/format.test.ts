// The pure parts: figures as the status bar and the view show them, the SSE parser over any
// chunking, the reconnection backoff, and the view model's ordering and notifications.

import { test } from "node:test";
import * as assert from "node:assert/strict";

import * as format from "../src/format";
import { SessionModel, downStatusBar, inFolders } from "../src/model";
import { SseParser, backoffMs, endpoint } from "../src/monitor";
import type { Session } from "../src/types";

function session(over: Partial<Session>): Session {
  return {
    session_id: "s1",
    status: "ACTIVE",
    started_at: "2026-11-25T10:00:00Z",
    updated_at: "2026-11-25T10:00:00Z",
    cwd: "/work/app",
    project_path: "/work/app",
    model: "claude-sonnet-4-5",
    total_cost_usd: 0.42,
    cost_source: "estimated",
    duration_ms: 0,
    num_turns: 5,
    tokens: { input: 1200, output: 3400, cache_read: 56000, cache_creation: 7000 },
    efficiency: { cache_hit_ratio: 0.8358 },
    ...over,
  };
}

const T0 = Date.parse("2026-11-25T10:00:00Z");

test("figures read the way the issue shows them", () => {
  assert.equal(format.usd(0.42), "$0.42");
  assert.equal(format.usd(12.3), "$12.30");
  assert.equal(format.usd(0.0042), "$0.0042");
  assert.equal(format.usd(0), "$0.00");
  assert.equal(format.usd(Number.NaN), "$0.00");
  assert.equal(format.duration(192_000), "3m12s");
  assert.equal(format.duration(45_500), "45s");
  assert.equal(format.duration(3_900_000), "1h05m");
  assert.equal(format.count(950), "950");
  assert.equal(format.count(12_345), "12k");
  assert.equal(format.count(4_500_000), "4.5M");
  assert.equal(format.percent(0.8358), "84 %");
  assert.equal(format.percent(null), "—");
  assert.equal(format.turns(1), "1 turn");
  assert.equal(format.baseName("/work/app/"), "app");
});

test("a live session's status bar text, its duration running with the clock", () => {
  const s = session({ duration_ms: 1000 });
  assert.equal(format.liveText(s, T0 + 192_000), "● LIVE $0.42 · 5 turns · 3m12s");
  // An ended session keeps the monitor's figure.
  const done = session({ status: "COMPLETED", duration_ms: 5000 });
  assert.equal(format.elapsedMs(done, T0 + 999_000), 5000);
  assert.equal(format.idleText(null), "cclive");
  assert.equal(format.idleText(1.5), "cclive $1.50");
});

test("the tooltip has project, model, tokens, cache hit ratio and budget use", () => {
  const lines = format.tooltipLines(
    session({}),
    [
      {
        project: null,
        period: "day",
        period_key: "2026-11-25",
        limit_usd: 10,
        spent_usd: 1.2,
        percent: 12,
        projected_usd: 3,
        level: "ok",
      },
      {
        project: "other",
        period: "day",
        period_key: "2026-11-25",
        limit_usd: 1,
        spent_usd: 0.5,
        percent: 50,
        projected_usd: 1,
        level: "notice",
      },
    ],
    T0 + 60_000,
  );
  const text = lines.join("\n");
  assert.match(text, /Project: \/work\/app/);
  assert.match(text, /Model: claude-sonnet-4-5/);
  assert.match(text, /Tokens: 1\.2k in · 3\.4k out · 56k cache read · 7\.0k cache write/);
  assert.match(text, /Cache hit ratio: 84 %/);
  assert.match(text, /Budget: daily budget: \$1\.20 of \$10\.00 \(12 %\)/);
  assert.doesNotMatch(text, /project other/, "another project's limit is left out");
  assert.match(format.tooltipLines(session({}), [], T0).join("\n"), /Budget: none configured/);
});

test("the SSE parser gives the same events however the bytes are cut", () => {
  const wire =
    'retry: 1000\r\nevent: snapshot\r\ndata: {"a":1}\r\n\r\n: comment\n\nevent: update\ndata: {"b":\ndata: 2}\n\ndata: x\n\n';
  const whole = new SseParser().feed(wire);
  assert.deepEqual(whole, [
    { event: "snapshot", data: '{"a":1}' },
    { event: "update", data: '{"b":\n2}' },
    { event: "message", data: "x" },
  ]);
  for (let size = 1; size < 8; size++) {
    const p = new SseParser();
    const got = [];
    for (let i = 0; i < wire.length; i += size) {
      got.push(...p.feed(wire.slice(i, i + size)));
    }
    assert.deepEqual(got, whole, `chunks of ${size}`);
  }
});

test("reconnection backs off from 1 s to a ceiling; endpoints keep the base path", () => {
  assert.deepEqual([0, 1, 2, 3].map((a) => backoffMs(a)), [1000, 2000, 4000, 8000]);
  assert.equal(backoffMs(50), 60_000);
  assert.equal(backoffMs(3, 5000), 5000);
  assert.equal(endpoint("http://127.0.0.1:8501", "/api/stream").href, "http://127.0.0.1:8501/api/stream");
  assert.equal(endpoint("https://team.example/cclive/", "/healthz").href, "https://team.example/cclive/healthz");
});

test("the view lists live sessions first, this workspace's before others, then recent ones", () => {
  const m = new SessionModel();
  m.workspaceFolders = ["/work/app"];
  m.applySnapshot({
    status: "ACTIVE",
    updated_at: "2026-11-25T10:05:00Z",
    data: null,
    active_sessions: [
      session({ session_id: "other", cwd: "/elsewhere", project_path: "/elsewhere", updated_at: "2026-11-25T10:04:00Z" }),
      session({ session_id: "mine", cwd: "/work/app/sub", updated_at: "2026-11-25T10:01:00Z" }),
    ],
  });
  m.setHistory([session({ session_id: "old", status: "COMPLETED", started_at: "2026-11-24T09:00:00Z" })]);
  assert.deepEqual(m.live().map((s) => s.session_id), ["mine", "other"]);
  assert.equal(m.current()?.session_id, "mine");
  assert.deepEqual(m.recent().map((s) => s.session_id), ["old"]);
  assert.match(m.row(m.live()[0], T0).description, /^this workspace · \$0\.42 · 5 turns/);
  assert.ok(!m.row(m.live()[1], T0).inWorkspace);
  assert.ok(inFolders("C:\\w\\app\\x", ["C:\\w\\app"]));
  assert.ok(!inFolders("/work/application", ["/work/app"]));

  // "mine" ends: it leaves the live group for the recent one, newest first.
  const notices = m.applyUpdate(
    { kind: "ended", previous_status: "ACTIVE", session: session({ session_id: "mine", status: "COMPLETED" }) },
    { budgetAlerts: true, failedSessions: true, interruptedSessions: true },
  );
  assert.deepEqual(notices, []);
  assert.deepEqual(m.live().map((s) => s.session_id), ["other"]);
  assert.deepEqual(m.recent().map((s) => s.session_id), ["mine", "old"]);
});

test("the status bar: warning tone while working, another while waiting, plain when idle", () => {
  const m = new SessionModel();
  m.todayCost = 2.5;
  assert.deepEqual(m.statusBar(T0, "http://127.0.0.1:8501").text, "cclive $2.50");
  assert.equal(m.statusBar(T0, "u").tone, "plain");
  m.applySnapshot({ status: "ACTIVE", updated_at: "x", data: null, active_sessions: [session({})] });
  const live = m.statusBar(T0 + 10_000, "u");
  assert.equal(live.tone, "active");
  assert.equal(live.sessionId, "s1");
  assert.equal(live.text, "● LIVE $0.42 · 5 turns · 10s");
  m.applyUpdate(
    { kind: "status_changed", session: session({ waiting_for: "permission prompt" }) },
    { budgetAlerts: true, failedSessions: true, interruptedSessions: true },
  );
  assert.equal(m.statusBar(T0, "u").tone, "waiting");
  assert.match(m.statusBar(T0, "u").tooltip, /waiting for permission prompt/);
  const down = downStatusBar("http://127.0.0.1:8501", "nothing listens there");
  assert.equal(down.tone, "down");
  assert.match(down.tooltip, /No cclive monitor answers at http:\/\/127\.0\.0\.1:8501/);
  assert.match(down.tooltip, /cclive dashboard/);
});

test("notifications follow the settings", () => {
  const m = new SessionModel();
  const all = { budgetAlerts: true, failedSessions: true, interruptedSessions: true };
  const none = { budgetAlerts: false, failedSessions: false, interruptedSessions: false };
  const failed = { kind: "ended" as const, session: session({ status: "FAILED", error: "API Error: 500" }) };
  assert.equal(m.applyUpdate(failed, all)[0].level, "error");
  assert.match(m.applyUpdate(failed, all)[0].message, /app FAILED: API Error: 500/);
  assert.deepEqual(m.applyUpdate(failed, none), []);
  const interrupted = { kind: "ended" as const, session: session({ status: "INTERRUPTED" }) };
  assert.match(m.applyUpdate(interrupted, all)[0].message, /was INTERRUPTED/);
  assert.deepEqual(m.applyUpdate(interrupted, { ...all, interruptedSessions: false }), []);
  const alert = {
    project: null,
    period: "day" as const,
    period_key: "2026-11-25",
    threshold_percent: 80,
    limit_usd: 10,
    spent_usd: 8.5,
    percent: 85,
    projected_usd: 12,
    at: "2026-11-25T10:00:00Z",
  };
  const [notice] = m.budgetNotice(alert, all);
  assert.equal(notice.level, "warning");
  assert.equal(
    notice.message,
    "cclive: daily budget: $8.50 of $10.00 (85 %) reached the 80 % threshold; $12.00 projected by the end of the day.",
  );
  assert.deepEqual(m.budgetNotice(alert, none), []);
});
