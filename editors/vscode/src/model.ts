// What the extension knows about Claude Code sessions, folded from the monitor's stream: the
// snapshot, then each update. It decides which session is "current" (for the status bar), what
// the status bar shows, the view's two groups, and which notifications a change calls for.
// Pure: no vscode, no network, no clock (`now` comes from the caller).

import * as format from "./format";
import type { BudgetAlert, BudgetStatus, Session, Snapshot, Update } from "./types";

/** What the status bar shows. `tone` picks its colour: `active` (a session works), `waiting`
 * (it waits for the user or a permission), `plain` (idle), `down` (no monitor). */
export interface StatusBarView {
  text: string;
  tooltip: string;
  tone: "active" | "waiting" | "plain" | "down";
  /** The session a click opens; none: the dashboard. */
  sessionId: string | null;
}

/** One row of the view. */
export interface SessionRow {
  session: Session;
  live: boolean;
  /** The session ran in one of the open workspace's folders. */
  inWorkspace: boolean;
  label: string;
  description: string;
}

/** Which notifications are wanted. */
export interface NotificationSettings {
  budgetAlerts: boolean;
  failedSessions: boolean;
  interruptedSessions: boolean;
}

/** A notification to show. */
export interface Notice {
  level: "warning" | "error";
  message: string;
  sessionId: string | null;
}

const LIVE = new Set(["ACTIVE", "IDLE"]);

/** Most recent ended sessions kept for the view. */
export const RECENT_LIMIT = 20;

export function isLive(s: Session): boolean {
  return LIVE.has(s.status);
}

/** Whether `path` is one of `folders` or inside one. */
export function inFolders(path: string | null | undefined, folders: readonly string[]): boolean {
  if (!path) {
    return false;
  }
  const norm = (p: string) => p.replace(/[\\/]+$/, "");
  const p = norm(path);
  return folders.some((f) => {
    const folder = norm(f);
    return p === folder || p.startsWith(`${folder}/`) || p.startsWith(`${folder}\\`);
  });
}

export class SessionModel {
  private sessions = new Map<string, Session>();
  /** Ended sessions from the history (`/api/sessions`), newest first. */
  private history: Session[] = [];
  todayCost: number | null = null;
  budgets: BudgetStatus[] = [];
  workspaceFolders: readonly string[] = [];

  /** Starts over from a full snapshot (the stream's `snapshot` and `resync`). */
  applySnapshot(snapshot: Snapshot): void {
    const ended = [...this.sessions.values()].filter((s) => !isLive(s));
    this.sessions.clear();
    for (const s of ended) {
      this.sessions.set(s.session_id, s);
    }
    if (snapshot.data) {
      this.sessions.set(snapshot.data.session_id, snapshot.data);
    }
    for (const s of snapshot.active_sessions ?? []) {
      this.sessions.set(s.session_id, s);
    }
    // A session the snapshot no longer calls live ended while we were away: it is in history.
  }

  /** One change; returns the notifications it calls for. */
  applyUpdate(update: Update, settings: NotificationSettings): Notice[] {
    const s = update.session;
    this.sessions.set(s.session_id, s);
    if (update.kind !== "ended") {
      return [];
    }
    if (s.status === "FAILED" && settings.failedSessions) {
      return [
        {
          level: "error",
          message: `Claude Code session in ${format.projectName(s)} FAILED${
            s.error ? `: ${s.error}` : ""
          } (${format.usd(s.total_cost_usd)}, ${format.turns(s.num_turns)}).`,
          sessionId: s.session_id,
        },
      ];
    }
    if (s.status === "INTERRUPTED" && settings.interruptedSessions) {
      return [
        {
          level: "warning",
          message: `Claude Code session in ${format.projectName(s)} was INTERRUPTED (${format.usd(
            s.total_cost_usd,
          )}, ${format.turns(s.num_turns)}).`,
          sessionId: s.session_id,
        },
      ];
    }
    return [];
  }

  /** A budget threshold crossed; the notification it calls for. */
  budgetNotice(alert: BudgetAlert, settings: NotificationSettings): Notice[] {
    if (!settings.budgetAlerts) {
      return [];
    }
    return [
      {
        level: alert.threshold_percent >= 100 ? "error" : "warning",
        message: `cclive: ${format.budgetLine(alert)} reached the ${alert.threshold_percent} % threshold${
          alert.threshold_percent < 100
            ? `; ${format.usd(alert.projected_usd)} projected by the end of the ${alert.period}`
            : ""
        }.`,
        sessionId: null,
      },
    ];
  }

  /** The ended sessions of the history, newest first. */
  setHistory(sessions: Session[]): void {
    this.history = sessions.slice(0, RECENT_LIMIT);
  }

  session(id: string): Session | undefined {
    return this.sessions.get(id) ?? this.history.find((s) => s.session_id === id);
  }

  live(): Session[] {
    return [...this.sessions.values()].filter(isLive).sort((a, b) => {
      const wa = this.inWorkspace(a) ? 0 : 1;
      const wb = this.inWorkspace(b) ? 0 : 1;
      return wa - wb || b.updated_at.localeCompare(a.updated_at);
    });
  }

  /** The session the status bar is about: a live one of this workspace, else any live one
   * (the most recently changed first). */
  current(): Session | null {
    return this.live()[0] ?? null;
  }

  /** Ended sessions: those seen end here and the history's, newest first, each once. */
  recent(): Session[] {
    const seen = new Map<string, Session>();
    for (const s of this.sessions.values()) {
      if (!isLive(s)) {
        seen.set(s.session_id, s);
      }
    }
    for (const s of this.history) {
      if (!seen.has(s.session_id) && !this.sessions.has(s.session_id)) {
        seen.set(s.session_id, s);
      }
    }
    return [...seen.values()]
      .sort((a, b) => b.started_at.localeCompare(a.started_at))
      .slice(0, RECENT_LIMIT);
  }

  inWorkspace(s: Session): boolean {
    return inFolders(s.cwd, this.workspaceFolders) || inFolders(s.project_path, this.workspaceFolders);
  }

  row(s: Session, now: number): SessionRow {
    const inWorkspace = this.inWorkspace(s);
    return {
      session: s,
      live: isLive(s),
      inWorkspace,
      label: format.projectName(s),
      description: `${inWorkspace ? "this workspace · " : ""}${format.sessionDescription(s, now)}`,
    };
  }

  /** The status bar when connected. */
  statusBar(now: number, monitorUrl: string): StatusBarView {
    const s = this.current();
    if (!s) {
      const today =
        this.todayCost === null ? "" : `Today: ${format.usd(this.todayCost)}\n`;
      const budgets = this.budgets.map((b) => `Budget: ${format.budgetLine(b)}\n`).join("");
      return {
        text: format.idleText(this.todayCost),
        tooltip: `cclive — no Claude Code session is running.\n${today}${budgets}Monitor: ${monitorUrl}\nClick to open the dashboard.`,
        tone: "plain",
        sessionId: null,
      };
    }
    const others = this.live().length - 1;
    const lines = format.tooltipLines(s, this.budgets, now);
    if (others > 0) {
      lines.push(`${others} more live session${others === 1 ? "" : "s"}`);
    }
    lines.push("Click to open the session's page.");
    return {
      text: format.liveText(s, now),
      tooltip: lines.join("\n"),
      tone: format.isWaiting(s) ? "waiting" : "active",
      sessionId: s.session_id,
    };
  }
}

/** The status bar when no monitor answers. */
export function downStatusBar(monitorUrl: string, reason: string): StatusBarView {
  return {
    text: "$(debug-disconnect) cclive",
    tooltip: `No cclive monitor answers at ${monitorUrl} (${reason}).\nStart one with "cclive dashboard", or click to run "cclive: Start monitor".`,
    tone: "down",
    sessionId: null,
  };
}
