// Talking to the cclive monitor, and to nothing else: its live stream (`GET /api/stream`,
// server-sent events) with reconnection and backoff, and a few JSON reads. No vscode here (the
// node tests drive it against a real `cclive dashboard`).
//
// Push, not polling: while connected, nothing runs on a timer — the extension waits for the
// monitor's events. Only while no monitor answers does a reconnect timer run, with a backoff
// that grows from 1 s to a minute (and restarts at 1 s after a successful connection).

import * as http from "node:http";
import * as https from "node:https";

/** One server-sent event. */
export interface SseEvent {
  event: string;
  data: string;
}

/** Splits a `text/event-stream` into events (the WHATWG rules the monitor needs: `event:`,
 * multi-line `data:`, comments, CRLF or LF line ends). Feed it chunks as they come. */
export class SseParser {
  private buffer = "";
  private eventName = "";
  private data: string[] = [];

  feed(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    for (;;) {
      const nl = this.buffer.search(/\r\n|\r|\n/);
      // A lone CR at the end may be the first half of a CRLF: wait for the next chunk.
      if (nl < 0 || (nl === this.buffer.length - 1 && this.buffer[nl] === "\r")) {
        break;
      }
      const sep = this.buffer.startsWith("\r\n", nl) ? 2 : 1;
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + sep);
      if (line === "") {
        if (this.data.length > 0) {
          out.push({ event: this.eventName || "message", data: this.data.join("\n") });
        }
        this.eventName = "";
        this.data = [];
        continue;
      }
      if (line.startsWith(":")) {
        continue;
      }
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) {
        value = value.slice(1);
      }
      if (field === "event") {
        this.eventName = value;
      } else if (field === "data") {
        this.data.push(value);
      }
    }
    return out;
  }
}

/** Where the monitor is and how to authenticate. */
export interface MonitorTarget {
  /** e.g. `http://127.0.0.1:8501` (no trailing slash needed). */
  url: string;
  /** Sent as `Authorization: Bearer` when set. */
  token?: string;
}

/** `url` + `path`, the base's own path kept. */
export function endpoint(base: string, path: string): URL {
  const u = new URL(base);
  u.pathname = `${u.pathname.replace(/\/+$/, "")}${path}`;
  u.search = "";
  return u;
}

function headers(target: MonitorTarget, extra: Record<string, string>): Record<string, string> {
  const h: Record<string, string> = { ...extra };
  if (target.token) {
    h.Authorization = `Bearer ${target.token}`;
  }
  return h;
}

function client(u: URL): typeof http | typeof https {
  return u.protocol === "https:" ? https : http;
}

/** An error with the HTTP status, when the monitor answered. */
export class MonitorError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** `GET path` as JSON, failing after `timeoutMs`. */
export function getJson<T>(
  target: MonitorTarget,
  path: string,
  query: Record<string, string> = {},
  timeoutMs = 5000,
): Promise<T> {
  const u = endpoint(target.url, path);
  for (const [k, v] of Object.entries(query)) {
    u.searchParams.set(k, v);
  }
  return new Promise((resolve, reject) => {
    const req = client(u).get(
      u,
      { headers: headers(target, { Accept: "application/json" }), timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          if ((res.statusCode ?? 0) >= 400) {
            reject(new MonitorError(describeStatus(res.statusCode ?? 0, body), res.statusCode));
            return;
          }
          try {
            resolve(JSON.parse(body) as T);
          } catch {
            reject(new MonitorError(`the monitor's answer to ${path} is not JSON`));
          }
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new MonitorError(`no answer within ${timeoutMs} ms`)));
    req.on("error", (e) => reject(e));
  });
}

function describeStatus(status: number, body: string): string {
  let detail = "";
  try {
    const parsed = JSON.parse(body) as { error?: string };
    detail = parsed.error ?? "";
  } catch {
    detail = "";
  }
  if (status === 401) {
    return 'the monitor wants a token: run "cclive: Set monitor token"';
  }
  return `the monitor answered ${status}${detail ? `: ${detail}` : ""}`;
}

/** Whether a cclive monitor answers at `target` (its `/healthz`). */
export async function isUp(target: MonitorTarget, timeoutMs = 1500): Promise<boolean> {
  try {
    const h = await getJson<{ service?: string }>(target, "/healthz", {}, timeoutMs);
    return h.service === "cclive";
  } catch {
    return false;
  }
}

/** What a [`LiveStream`] tells its owner. */
export interface StreamHandlers {
  /** The full state (on connect, and `resync` after falling behind). */
  onSnapshot(snapshot: unknown): void;
  onUpdate(update: unknown): void;
  /** A budget alert (monitors that publish them). */
  onBudget?(alert: unknown): void;
  /** Connected (the first snapshot arrived) or down, with why and when the next try is. */
  onConnection(state: { up: true } | { up: false; reason: string; retryInMs: number }): void;
}

/** Backoff of the `attempt`-th reconnection (0-based): 1 s, 2 s, 4 s … at most `maxMs`. */
export function backoffMs(attempt: number, maxMs = 60_000): number {
  return Math.min(maxMs, 1000 * 2 ** Math.min(attempt, 16));
}

/** The live stream, kept open: reconnects with backoff while the monitor is away. */
export class LiveStream {
  private request: http.ClientRequest | null = null;
  private timer: NodeJS.Timeout | null = null;
  private attempt = 0;
  private stopped = false;
  private generation = 0;

  constructor(
    private target: MonitorTarget,
    private readonly handlers: StreamHandlers,
    private readonly maxBackoffMs = 60_000,
  ) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  /** Closes the stream and cancels any retry. */
  stop(): void {
    this.stopped = true;
    this.generation += 1;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.request?.destroy();
    this.request = null;
  }

  /** Reconnects now (after a setting changed, or the user asked), with a fresh backoff. */
  restart(target?: MonitorTarget): void {
    if (target) {
      this.target = target;
    }
    this.stop();
    this.attempt = 0;
    this.start();
  }

  private connect(): void {
    const generation = ++this.generation;
    const u = endpoint(this.target.url, "/api/stream");
    let settled = false;
    const fail = (reason: string) => {
      if (settled || generation !== this.generation || this.stopped) {
        return;
      }
      settled = true;
      this.request?.destroy();
      this.request = null;
      const wait = backoffMs(this.attempt, this.maxBackoffMs);
      this.attempt += 1;
      this.handlers.onConnection({ up: false, reason, retryInMs: wait });
      this.timer = setTimeout(() => {
        this.timer = null;
        if (!this.stopped && generation === this.generation) {
          this.connect();
        }
      }, wait);
    };
    let req: http.ClientRequest;
    try {
      req = client(u).get(
        u,
        { headers: headers(this.target, { Accept: "text/event-stream" }) },
        (res) => {
          if (res.statusCode !== 200) {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () =>
              fail(describeStatus(res.statusCode ?? 0, Buffer.concat(chunks).toString("utf8"))),
            );
            return;
          }
          res.setEncoding("utf8");
          const parser = new SseParser();
          res.on("data", (chunk: string) => {
            if (generation !== this.generation) {
              return;
            }
            for (const ev of parser.feed(chunk)) {
              this.dispatch(ev);
            }
          });
          res.on("end", () => fail("the monitor closed the stream"));
          res.on("error", (e) => fail(e.message));
        },
      );
    } catch (e) {
      fail(e instanceof Error ? e.message : String(e));
      return;
    }
    req.on("error", (e: NodeJS.ErrnoException) =>
      fail(e.code === "ECONNREFUSED" ? "nothing listens there" : e.message),
    );
    // No read timeout: an idle stream is silent by design (the monitor sends nothing while
    // nothing changes). Keep-alive probes notice a vanished peer.
    req.on("socket", (socket) => socket.setKeepAlive(true, 15_000));
    this.request = req;
  }

  private dispatch(ev: SseEvent): void {
    let value: unknown;
    try {
      value = JSON.parse(ev.data);
    } catch {
      return;
    }
    switch (ev.event) {
      case "snapshot":
      case "resync":
        if (ev.event === "snapshot") {
          this.attempt = 0;
          this.handlers.onConnection({ up: true });
        }
        this.handlers.onSnapshot(value);
        break;
      case "update":
        this.handlers.onUpdate(value);
        break;
      case "budget":
        this.handlers.onBudget?.(value);
        break;
      default:
        break;
    }
  }
}
