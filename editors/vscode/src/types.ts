// The monitor's JSON, as much of it as the extension reads (crates/cclive-core: SessionState,
// Snapshot, Update; crates/cclive-server: /api/summary, /api/budget, the `budget` stream event).
// Types only: nothing here runs.

/** A session's status; `INACTIVE` appears only as a snapshot's status. */
export type Status = "ACTIVE" | "IDLE" | "COMPLETED" | "FAILED" | "INTERRUPTED";

export interface Tokens {
  input: number;
  output: number;
  cache_read: number;
  cache_creation: number;
}

export interface Session {
  session_id: string;
  status: Status;
  mode?: string;
  started_at: string;
  updated_at: string;
  ended_at?: string;
  cwd?: string | null;
  project_path?: string | null;
  model?: string | null;
  waiting_for?: string | null;
  total_cost_usd: number;
  cost_source?: string;
  duration_ms: number;
  num_turns: number;
  tokens: Tokens;
  efficiency?: { cache_hit_ratio?: number | null };
  error?: string | null;
}

/** `/api/current-session` and the stream's `snapshot`/`resync` events. */
export interface Snapshot {
  status: string;
  updated_at: string;
  data: Session | null;
  active_sessions: Session[];
}

export type UpdateKind = "started" | "status_changed" | "progress" | "ended";

/** The stream's `update` event. */
export interface Update {
  kind: UpdateKind;
  previous_status?: Status;
  session: Session;
}

/** One configured budget limit now (`/api/budget`). */
export interface BudgetStatus {
  project: string | null;
  period: "day" | "week" | "month";
  period_key: string;
  limit_usd: number;
  spent_usd: number;
  percent: number;
  projected_usd: number;
  level: string;
}

/** A threshold crossed (the stream's `budget` event). */
export interface BudgetAlert {
  project: string | null;
  period: "day" | "week" | "month";
  period_key: string;
  threshold_percent: number;
  limit_usd: number;
  spent_usd: number;
  percent: number;
  projected_usd: number;
  at: string;
}

/** `/api/summary?period=day`, the fields read. */
export interface Summary {
  sessions: number;
  /** The day's responses, priced; null when none of its usage could be priced. */
  total_cost_usd: number | null;
}
