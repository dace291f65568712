// How figures read in the status bar, tooltips and the view: money, durations, token counts,
// ratios, and the status bar's text and tooltip for a session. Pure: no vscode, no clock (the
// caller passes `now`), no I/O — the node tests check it as is.

import type { BudgetAlert, BudgetStatus, Session } from "./types";

/** `$0.42`, `$12.30`, `$0.0042` (tiny amounts keep two significant digits). */
export function usd(value: number): string {
  if (!Number.isFinite(value) || value <= 0) {
    return "$0.00";
  }
  if (value < 0.01) {
    return `$${value.toPrecision(2)}`;
  }
  return `$${value.toFixed(2)}`;
}

/** `45s`, `3m12s`, `1h05m`. */
export function duration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) {
    return `${h}h${String(m).padStart(2, "0")}m`;
  }
  if (m > 0) {
    return `${m}m${String(s).padStart(2, "0")}s`;
  }
  return `${s}s`;
}

/** `950`, `12.3k`, `4.5M`. */
export function count(n: number): string {
  if (n < 1000) {
    return String(n);
  }
  if (n < 1_000_000) {
    return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  }
  return `${(n / 1_000_000).toFixed(1)}M`;
}

/** `83 %`, or `—` when unknown. */
export function percent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) {
    return "—";
  }
  return `${Math.round(ratio * 100)} %`;
}

/** `1 turn`, `5 turns`. */
export function turns(n: number): string {
  return n === 1 ? "1 turn" : `${n} turns`;
}

/** A live session's wall time: the monitor's figure, or the time since it started when that is
 * more (the monitor updates `duration_ms` with usage, the clock runs on). */
export function elapsedMs(session: Session, now: number): number {
  const started = Date.parse(session.started_at);
  const since = Number.isFinite(started) ? now - started : 0;
  if (session.status === "ACTIVE" || session.status === "IDLE") {
    return Math.max(session.duration_ms, since);
  }
  return session.duration_ms;
}

/** The last component of a path (`/home/me/app` → `app`). */
export function baseName(path: string | null | undefined): string {
  if (!path) {
    return "";
  }
  const trimmed = path.replace(/[\\/]+$/, "");
  const i = Math.max(trimmed.lastIndexOf("/"), trimmed.lastIndexOf("\\"));
  return i >= 0 ? trimmed.slice(i + 1) : trimmed;
}

/** The project a session is filed under, as a short name. */
export function projectName(session: Session): string {
  return baseName(session.project_path ?? session.cwd) || session.session_id.slice(0, 8);
}

/** Whether a live session waits for the user (an idle interactive prompt, or a permission). */
export function isWaiting(session: Session): boolean {
  return session.status === "IDLE" || Boolean(session.waiting_for);
}

/** The status bar's text for a live session: `● LIVE $0.42 · 5 turns · 3m12s`. */
export function liveText(session: Session, now: number): string {
  return `● LIVE ${usd(session.total_cost_usd)} · ${turns(session.num_turns)} · ${duration(
    elapsedMs(session, now),
  )}`;
}

/** The status bar's text while nothing runs: `cclive` and today's cost when known. */
export function idleText(todayCost: number | null): string {
  return todayCost === null ? "cclive" : `cclive ${usd(todayCost)}`;
}

/** `daily budget: $1.20 of $10.00 (12 %)` (`… of project app` for a project's limit). */
export function budgetLine(b: BudgetStatus | BudgetAlert): string {
  const scope = b.project ? ` of project ${b.project}` : "";
  const adjective = { day: "daily", week: "weekly", month: "monthly" }[b.period] ?? b.period;
  return `${adjective} budget${scope}: ${usd(b.spent_usd)} of ${usd(b.limit_usd)} (${Math.floor(
    b.percent,
  )} %)`;
}

/** The tooltip's lines for a session (markdown-free text; the caller may render it). */
export function tooltipLines(
  session: Session,
  budgets: BudgetStatus[],
  now: number,
): string[] {
  const t = session.tokens;
  const lines = [
    `Claude Code — ${session.status}${session.waiting_for ? ` (waiting for ${session.waiting_for})` : ""}`,
    `Project: ${session.project_path ?? session.cwd ?? "unknown"}`,
    `Model: ${session.model ?? "unknown"}`,
    `Cost: ${usd(session.total_cost_usd)}${session.cost_source === "estimated" ? " (estimated)" : ""} · ${turns(
      session.num_turns,
    )} · ${duration(elapsedMs(session, now))}`,
    `Tokens: ${count(t.input)} in · ${count(t.output)} out · ${count(t.cache_read)} cache read · ${count(
      t.cache_creation,
    )} cache write`,
    `Cache hit ratio: ${percent(session.efficiency?.cache_hit_ratio)}`,
  ];
  const relevant = budgets.filter(
    (b) => !b.project || b.project === projectName(session) || b.project === session.project_path,
  );
  if (relevant.length > 0) {
    lines.push(...relevant.map((b) => `Budget: ${budgetLine(b)}`));
  } else {
    lines.push("Budget: none configured");
  }
  return lines;
}

/** The view's one-line description of a session: `$0.42 · 5 turns · 3m12s · COMPLETED`. */
export function sessionDescription(session: Session, now: number): string {
  return `${usd(session.total_cost_usd)} · ${turns(session.num_turns)} · ${duration(
    elapsedMs(session, now),
  )} · ${session.status}`;
}
