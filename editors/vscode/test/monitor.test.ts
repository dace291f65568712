// The extension's client and model against a REAL monitor: the `cclive dashboard` binary cargo
// built, serving sessions of the real Claude Code CLI (against the fake Anthropic API of the
// Rust test support) and events sent to its intake. The Rust integration test
// `vscode_extension` runs this file with the world's environment and:
//   CCLIVE_TEST_BIN      the cclive binary
//   CCLIVE_TEST_CLAUDE   the pinned claude binary (its API: a slow scenario)
//   CCLIVE_TEST_WORKDIR  claude's work dir
// Without them the tests are skipped (run them through cargo: see scripts/test.sh).

import { test } from "node:test";
import * as assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

import * as format from "../src/format";
import { NotificationSettings, Notice, SessionModel } from "../src/model";
import { LiveStream, MonitorTarget, getJson, isUp } from "../src/monitor";
import type { BudgetAlert, BudgetStatus, Session, Snapshot, Summary, Update } from "../src/types";

const BIN = process.env.CCLIVE_TEST_BIN;
const CLAUDE = process.env.CCLIVE_TEST_CLAUDE;
const WORKDIR = process.env.CCLIVE_TEST_WORKDIR;
const skip = !BIN || !CLAUDE || !WORKDIR ? "run through `cargo test -p cclive --test integration vscode`" : false;
const DEADLINE_MS = 60_000;
const ALL: NotificationSettings = { budgetAlerts: true, failedSessions: true, interruptedSessions: true };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

/** Polls `cond` (a condition, not a clock) until it holds, failing with `what` after the deadline. */
async function until<T>(what: string, cond: () => T | undefined | null | false | Promise<T | undefined | null | false>): Promise<T> {
  const end = Date.now() + DEADLINE_MS;
  for (;;) {
    const v = await cond();
    if (v) {
      return v;
    }
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A `cclive dashboard` on `port`, up once `/healthz` answers. */
class Dashboard {
  private constructor(
    readonly child: ChildProcess,
    readonly target: MonitorTarget,
  ) {}

  static async start(port: number, env: Record<string, string> = {}, token?: string): Promise<Dashboard> {
    const child = spawn(BIN!, ["dashboard", "--port", String(port)], {
      env: { ...process.env, CCLIVE_LOG: "warn", ...env },
      stdio: ["ignore", "ignore", "inherit"],
    });
    const d = new Dashboard(child, { url: `http://127.0.0.1:${port}`, token });
    await until("cclive dashboard to answer", () => isUp(d.target, 500));
    return d;
  }

  /** SIGTERM, then waits for the exit. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) {
      return;
    }
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGTERM");
    await exited;
  }

  async post(events: object[]): Promise<void> {
    const res = await fetch(`${this.target.url}/api/events`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(events),
    });
    assert.equal(res.status, 202, await res.text());
  }
}

/** A stream folded into a model, as the extension does, with everything it saw. */
class Watcher {
  readonly model = new SessionModel();
  readonly notices: Notice[] = [];
  readonly updates: Update[] = [];
  readonly alerts: BudgetAlert[] = [];
  readonly connections: ({ up: true } | { up: false; reason: string; retryInMs: number })[] = [];
  snapshots = 0;
  readonly stream: LiveStream;

  constructor(target: MonitorTarget, maxBackoffMs?: number) {
    this.stream = new LiveStream(
      target,
      {
        onSnapshot: (s) => {
          this.snapshots += 1;
          this.model.applySnapshot(s as Snapshot);
        },
        onUpdate: (u) => {
          this.updates.push(u as Update);
          this.notices.push(...this.model.applyUpdate(u as Update, ALL));
        },
        onBudget: (a) => {
          this.alerts.push(a as BudgetAlert);
          this.notices.push(...this.model.budgetNotice(a as BudgetAlert, ALL));
        },
        onConnection: (c) => this.connections.push(c),
      },
      maxBackoffMs,
    );
    this.stream.start();
  }

  up(): boolean {
    const last = this.connections[this.connections.length - 1];
    return Boolean(last && last.up);
  }
}

function runClaude(): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string }> } {
  const child = spawn(
    CLAUDE!,
    ["-p", "Please do the task.", "--output-format", "stream-json", "--verbose", "--allowedTools", "Bash", "Write"],
    { cwd: WORKDIR, env: process.env, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  child.stdout!.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr!.resume();
  const done = new Promise<{ code: number | null; stdout: string }>((resolve) =>
    child.on("exit", (code) => resolve({ code, stdout })),
  );
  return { child, done };
}

test("a real claude session: live in the model and status bar, then ended, counted today, in the view", { skip }, async (t) => {
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), "cclive-vscode-"));
  t.after(() => fs.rmSync(configDir, { recursive: true, force: true }));
  const config = path.join(configDir, "config.toml");
  // A tiny daily limit: the session's first usage crosses every threshold.
  fs.writeFileSync(config, "[budget]\ndaily_usd = 0.000001\n");
  const dashboard = await Dashboard.start(await freePort(), { CCLIVE_CONFIG: config });
  const w = new Watcher(dashboard.target);
  try {
    await until("the first snapshot", () => w.snapshots > 0 && w.up());
    w.model.workspaceFolders = [WORKDIR!];
    const summary0 = await getJson<Summary>(dashboard.target, "/api/summary", { period: "day" });
    w.model.todayCost = summary0.total_cost_usd;
    assert.equal(w.model.statusBar(Date.now(), dashboard.target.url).text, "cclive $0.00");
    assert.equal(w.model.statusBar(Date.now(), dashboard.target.url).tone, "plain");

    const claude = runClaude();
    const live = await until("the session live in the model", () => w.model.current());
    assert.equal(live.status, "ACTIVE");
    const bar = w.model.statusBar(Date.now(), dashboard.target.url);
    assert.equal(bar.tone, "active");
    assert.equal(bar.sessionId, live.session_id);
    assert.match(bar.text, /^● LIVE \$\d+\.\d+ · \d+ turns? · \d+(m\d\ds|s)$/);
    assert.ok(w.model.row(live, Date.now()).inWorkspace, "the session ran in the open workspace");
    // The figures pushed are the monitor's own.
    await until("a cost in the stream equal to the API's", async () => {
      const api = await getJson<Snapshot>(dashboard.target, "/api/current-session");
      const there = api.active_sessions.find((s) => s.session_id === live.session_id);
      const here = w.model.current();
      return there && here && there.total_cost_usd > 0 && there.total_cost_usd === here.total_cost_usd;
    });
    assert.match(w.model.statusBar(Date.now(), "u").tooltip, /Cache hit ratio: /);

    const { code, stdout } = await claude.done;
    assert.equal(code, 0, "claude succeeded");
    const result = JSON.parse(stdout.trim().split("\n").pop()!) as { session_id: string; total_cost_usd: number };
    assert.equal(result.session_id, live.session_id);
    const ended = await until("the ended update", () =>
      w.updates.find((u) => u.kind === "ended" && u.session.session_id === live.session_id),
    );
    assert.equal(ended.session.status, "COMPLETED");
    await until("Claude Code's own cost in the model", () =>
      w.model.session(live.session_id)?.total_cost_usd === result.total_cost_usd,
    );
    await until("the status bar back to idle", () => w.model.current() === null);
    assert.deepEqual(w.model.recent().map((s) => s.session_id), [live.session_id]);
    assert.match(w.model.row(w.model.recent()[0], Date.now()).description, /· COMPLETED$/);
    assert.deepEqual(w.notices.filter((n) => n.sessionId), [], "a completed session notifies nothing");

    // What the extension reads when a session ends: today's cost, the history, budget use.
    const summary = await until("today's summary to count it", async () => {
      const s = await getJson<Summary>(dashboard.target, "/api/summary", { period: "day" });
      return s.sessions === 1 ? s : null;
    });
    const cost = summary.total_cost_usd;
    assert.ok(cost !== null && cost > 0, "today's session is priced");
    w.model.todayCost = cost;
    assert.equal(w.model.statusBar(Date.now(), "u").text, `cclive ${format.usd(cost)}`);
    const history = await getJson<{ sessions: Session[] }>(dashboard.target, "/api/sessions", { limit: "20" });
    assert.equal(history.sessions[0].session_id, live.session_id);
    const budget = await getJson<{ configured: boolean; budgets: BudgetStatus[] }>(dashboard.target, "/api/budget");
    assert.equal(budget.configured, true);
    assert.equal(budget.budgets[0].period, "day");
    assert.ok(budget.budgets[0].spent_usd > 0);

    // The budget alerts came pushed, with their notifications.
    await until("the 100 % budget alert", () => w.alerts.find((a) => a.threshold_percent === 100));
    const exceeded = w.notices.find((n) => n.message.includes("reached the 100 % threshold"));
    assert.equal(exceeded?.level, "error");
  } finally {
    w.stream.stop();
    await dashboard.stop();
  }
});

test("failed and interrupted sessions notify; one waiting for a permission turns the bar", { skip }, async () => {
  const dashboard = await Dashboard.start(await freePort());
  const w = new Watcher(dashboard.target);
  try {
    await until("the first snapshot", () => w.snapshots > 0);
    const at = () => new Date().toISOString();
    const start = (id: string) => ({ session_id: id, at: at(), type: "session_started", mode: "print", source: "test", cwd: "/work/app" });
    await dashboard.post([
      start("wait-1"),
      { session_id: "wait-1", at: at(), type: "activity", state: "waiting", waiting_for: "permission prompt" },
    ]);
    await until("the waiting session", () => w.model.current()?.waiting_for === "permission prompt");
    assert.equal(w.model.statusBar(Date.now(), "u").tone, "waiting");

    await dashboard.post([start("fail-1"), { session_id: "fail-1", at: at(), type: "process_exited", code: 1 }]);
    await dashboard.post([start("int-1"), { session_id: "int-1", at: at(), type: "interrupted", signal: "SIGINT" }]);
    const failed = await until("the FAILED notice", () => w.notices.find((n) => n.sessionId === "fail-1"));
    assert.equal(failed.level, "error");
    assert.match(failed.message, /^Claude Code session in app FAILED/);
    const interrupted = await until("the INTERRUPTED notice", () => w.notices.find((n) => n.sessionId === "int-1"));
    assert.equal(interrupted.level, "warning");
    assert.match(interrupted.message, /was INTERRUPTED/);
  } finally {
    w.stream.stop();
    await dashboard.stop();
  }
});

test("no monitor: says so plainly and retries with backoff; connects when one starts, again after a restart", { skip }, async () => {
  const port = await freePort();
  const w = new Watcher({ url: `http://127.0.0.1:${port}` }, 2000);
  let dashboard: Dashboard | null = null;
  try {
    const first = await until("a down report", () => w.connections[0]);
    assert.deepEqual(first, { up: false, reason: "nothing listens there", retryInMs: 1000 });
    await until("a second try, later", () => w.connections[1]);
    assert.deepEqual(w.connections[1], { up: false, reason: "nothing listens there", retryInMs: 2000 });

    dashboard = await Dashboard.start(port);
    await until("the stream to connect by itself", () => w.up() && w.snapshots === 1);
    await dashboard.stop();
    await until("the stream to notice the monitor left", () => !w.up());
    const down = w.connections[w.connections.length - 1];
    assert.equal(down.up, false);
    assert.equal((down as { retryInMs: number }).retryInMs, 1000, "the backoff starts over after a connection");
    dashboard = await Dashboard.start(port);
    await until("the stream back after the restart", () => w.up() && w.snapshots === 2);
  } finally {
    w.stream.stop();
    await dashboard?.stop();
  }
});

test("a monitor with a token: refused plainly without it, streamed with it", { skip }, async () => {
  const token = "vscode-test-token-0123456789";
  const port = await freePort();
  const dashboard = await Dashboard.start(port, { CCLIVE_TOKEN: token }, token);
  const without = new Watcher({ url: dashboard.target.url }, 60_000);
  const withToken = new Watcher(dashboard.target);
  try {
    const refused = await until("a refusal", () => without.connections[0]);
    assert.equal(refused.up, false);
    assert.match((refused as { reason: string }).reason, /wants a token/);
    await until("the stream with the token", () => withToken.up() && withToken.snapshots === 1);
  } finally {
    without.stream.stop();
    withToken.stream.stop();
    await dashboard.stop();
  }
});
