// The extension's entry point: wires the monitor's live stream (monitor.ts) and the session
// model (model.ts) to VS Code — the status bar item, the "Claude Code" view, the commands, the
// notifications and the settings. Everything it learns comes from the configured monitor, and
// it sends nothing anywhere else (pages open in the user's browser, at the monitor's address).

import * as vscode from "vscode";
import { spawn } from "node:child_process";

import * as format from "./format";
import { LiveStream, MonitorTarget, endpoint, getJson, isUp } from "./monitor";
import { NotificationSettings, SessionModel, SessionRow, StatusBarView, downStatusBar } from "./model";
import type { BudgetAlert, BudgetStatus, Session, Snapshot, Summary, Update } from "./types";

const TOKEN_KEY = "cclive.token";

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const ext = new Extension(context);
  context.subscriptions.push(ext);
  await ext.start();
}

export function deactivate(): void {}

class Extension implements vscode.Disposable {
  private readonly model = new SessionModel();
  private readonly item: vscode.StatusBarItem;
  private readonly view: SessionsView;
  private stream: LiveStream | null = null;
  private target: MonitorTarget = { url: "http://127.0.0.1:8501" };
  private down: { reason: string } | null = { reason: "connecting" };
  /** Runs only while a session is live: the status bar's duration moves with the clock. */
  private ticker: NodeJS.Timeout | null = null;
  /** Fires once at the next local midnight, so "today" rolls over without polling. */
  private midnight: NodeJS.Timeout | null = null;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly context: vscode.ExtensionContext) {
    this.item = vscode.window.createStatusBarItem("cclive.status", vscode.StatusBarAlignment.Left, 100);
    this.item.name = "cclive";
    this.view = new SessionsView(this.model);
    this.disposables.push(
      this.item,
      vscode.window.registerTreeDataProvider("cclive.sessions", this.view),
      vscode.commands.registerCommand("cclive.openDashboard", () => this.open("/")),
      vscode.commands.registerCommand("cclive.showCurrentSession", () => this.showCurrent()),
      vscode.commands.registerCommand("cclive.startMonitor", () => this.startMonitor()),
      vscode.commands.registerCommand("cclive.setToken", () => this.setToken()),
      vscode.commands.registerCommand("cclive.reconnect", () => this.reconnect()),
      vscode.commands.registerCommand("cclive.openSession", (id: unknown) => {
        if (typeof id === "string") {
          return this.open(`/sessions/${encodeURIComponent(id)}`);
        }
        return this.showCurrent();
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration("cclive.monitorUrl")) {
          void this.reconnect();
        }
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.refreshFolders()),
      context.secrets.onDidChange((e) => {
        if (e.key === TOKEN_KEY) {
          void this.reconnect();
        }
      }),
    );
  }

  async start(): Promise<void> {
    this.refreshFolders();
    this.render();
    this.item.show();
    this.target = await this.readTarget();
    this.stream = new LiveStream(this.target, {
      onSnapshot: (s) => this.onSnapshot(s as Snapshot),
      onUpdate: (u) => this.onUpdate(u as Update),
      onBudget: (a) => this.onBudget(a as BudgetAlert),
      onConnection: (state) => {
        this.down = state.up ? null : { reason: state.reason };
        void vscode.commands.executeCommand("setContext", "cclive.connected", state.up);
        this.render();
      },
    });
    this.stream.start();
  }

  dispose(): void {
    this.stream?.stop();
    this.stopTicker();
    if (this.midnight) {
      clearTimeout(this.midnight);
    }
    for (const d of this.disposables) {
      d.dispose();
    }
  }

  private async readTarget(): Promise<MonitorTarget> {
    const config = vscode.workspace.getConfiguration("cclive");
    const url = config.get<string>("monitorUrl", "http://127.0.0.1:8501").trim() || "http://127.0.0.1:8501";
    const token = (await this.context.secrets.get(TOKEN_KEY)) ?? undefined;
    return { url, token };
  }

  private notificationSettings(): NotificationSettings {
    const c = vscode.workspace.getConfiguration("cclive.notifications");
    return {
      budgetAlerts: c.get<boolean>("budgetAlerts", true),
      failedSessions: c.get<boolean>("failedSessions", true),
      interruptedSessions: c.get<boolean>("interruptedSessions", true),
    };
  }

  private refreshFolders(): void {
    this.model.workspaceFolders = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
    this.render();
  }

  private async reconnect(): Promise<void> {
    this.target = await this.readTarget();
    this.down = { reason: "connecting" };
    this.render();
    this.stream?.restart(this.target);
  }

  private onSnapshot(snapshot: Snapshot): void {
    this.model.applySnapshot(snapshot);
    this.render();
    void this.refreshHistory();
  }

  private onUpdate(update: Update): void {
    for (const notice of this.model.applyUpdate(update, this.notificationSettings())) {
      void this.notify(notice.level, notice.message, notice.sessionId);
    }
    this.render();
    if (update.kind === "ended" || update.kind === "started") {
      void this.refreshHistory();
    }
  }

  private onBudget(alert: BudgetAlert): void {
    for (const notice of this.model.budgetNotice(alert, this.notificationSettings())) {
      void this.notify(notice.level, notice.message, null);
    }
    void this.refreshHistory();
  }

  private async notify(level: "warning" | "error", message: string, sessionId: string | null) {
    const action = sessionId ? "Open session" : "Open dashboard";
    const choice =
      level === "error"
        ? await vscode.window.showErrorMessage(message, action)
        : await vscode.window.showWarningMessage(message, action);
    if (choice === action) {
      await this.open(sessionId ? `/sessions/${encodeURIComponent(sessionId)}` : "/");
    }
  }

  /** Today's cost, budget use and the recent sessions: read when something happened (a
   * connection, a session starting or ending, a budget alert), never on a timer. */
  private async refreshHistory(): Promise<void> {
    const target = this.target;
    const [summary, sessions, budgets] = await Promise.allSettled([
      getJson<Summary>(target, "/api/summary", { period: "day" }),
      getJson<{ sessions: Session[] }>(target, "/api/sessions", { limit: "20" }),
      getJson<{ budgets: BudgetStatus[] }>(target, "/api/budget"),
    ]);
    if (summary.status === "fulfilled") {
      this.model.todayCost = summary.value.total_cost_usd;
    }
    if (sessions.status === "fulfilled") {
      this.model.setHistory(sessions.value.sessions);
    }
    if (budgets.status === "fulfilled") {
      this.model.budgets = budgets.value.budgets ?? [];
    }
    this.scheduleMidnight();
    this.render();
  }

  private scheduleMidnight(): void {
    if (this.midnight) {
      clearTimeout(this.midnight);
    }
    const now = new Date();
    const next = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1, 0, 0, 5);
    this.midnight = setTimeout(() => {
      this.midnight = null;
      void this.refreshHistory();
    }, next.getTime() - now.getTime());
  }

  private render(): void {
    const now = Date.now();
    const view: StatusBarView = this.down
      ? downStatusBar(this.target.url, this.down.reason)
      : this.model.statusBar(now, this.target.url);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.backgroundColor =
      view.tone === "active"
        ? new vscode.ThemeColor("statusBarItem.warningBackground")
        : view.tone === "waiting"
          ? new vscode.ThemeColor("statusBarItem.errorBackground")
          : undefined;
    this.item.command =
      view.tone === "down"
        ? { title: "Start monitor", command: "cclive.startMonitor" }
        : view.sessionId
          ? { title: "Open session", command: "cclive.openSession", arguments: [view.sessionId] }
          : { title: "Open dashboard", command: "cclive.openDashboard" };
    this.item.accessibilityInformation = { label: view.text.replace("$(debug-disconnect) ", "") };
    this.view.setDown(this.down ? this.down.reason : null);
    this.view.refresh();
    if (!this.down && this.model.current()) {
      this.startTicker();
    } else {
      this.stopTicker();
    }
  }

  private startTicker(): void {
    if (!this.ticker) {
      this.ticker = setInterval(() => this.render(), 1000);
    }
  }

  private stopTicker(): void {
    if (this.ticker) {
      clearInterval(this.ticker);
      this.ticker = null;
    }
  }

  /** Opens a page of the monitor in the user's browser. */
  private async open(path: string): Promise<void> {
    if (this.down) {
      await this.offerStart();
      return;
    }
    const page = endpoint(this.target.url, path);
    if (this.target.token) {
      // The monitor trades it for a cookie and drops it from the address (its access rules).
      page.searchParams.set("token", this.target.token);
    }
    await vscode.env.openExternal(vscode.Uri.parse(page.href, true));
  }

  private async showCurrent(): Promise<void> {
    const s = this.model.current() ?? this.model.recent()[0];
    if (!s) {
      void vscode.window.showInformationMessage(
        this.down ? "No cclive monitor answers." : "No Claude Code session yet.",
      );
      return;
    }
    await this.open(`/sessions/${encodeURIComponent(s.session_id)}`);
  }

  private async offerStart(): Promise<void> {
    const choice = await vscode.window.showWarningMessage(
      `No cclive monitor answers at ${this.target.url}. Start one with "cclive dashboard".`,
      "Start monitor",
    );
    if (choice === "Start monitor") {
      await this.startMonitor();
    }
  }

  /** Starts `cclive dashboard` in the background, with the user's consent, when no monitor
   * answers at a loopback address. */
  private async startMonitor(): Promise<void> {
    this.target = await this.readTarget();
    if (await isUp(this.target)) {
      void vscode.window.showInformationMessage(`A cclive monitor already runs at ${this.target.url}.`);
      await this.reconnect();
      return;
    }
    const u = new URL(this.target.url);
    if (!["127.0.0.1", "localhost", "[::1]"].includes(u.hostname)) {
      void vscode.window.showErrorMessage(
        `The monitor address ${this.target.url} is not on this machine: start cclive there.`,
      );
      return;
    }
    const exe = vscode.workspace.getConfiguration("cclive").get<string>("executable", "cclive") || "cclive";
    const port = u.port || (u.protocol === "https:" ? "443" : "80");
    const consent = await vscode.window.showInformationMessage(
      `Start "${exe} dashboard --port ${port}" in the background? It keeps running after VS Code closes.`,
      { modal: true },
      "Start",
    );
    if (consent !== "Start") {
      return;
    }
    try {
      await new Promise<void>((resolve, reject) => {
        const child = spawn(exe, ["dashboard", "--port", port], { detached: true, stdio: "ignore" });
        child.once("error", reject);
        child.once("spawn", () => {
          child.unref();
          resolve();
        });
      });
    } catch (e) {
      void vscode.window.showErrorMessage(
        `Could not start ${exe}: ${e instanceof Error ? e.message : String(e)}. Set "cclive.executable" to the cclive program.`,
      );
      return;
    }
    await this.reconnect();
  }

  private async setToken(): Promise<void> {
    const value = await vscode.window.showInputBox({
      prompt: "The monitor's token (CCLIVE_TOKEN), kept in VS Code's secret storage. Empty removes it.",
      password: true,
      ignoreFocusOut: true,
    });
    if (value === undefined) {
      return;
    }
    if (value === "") {
      await this.context.secrets.delete(TOKEN_KEY);
    } else {
      await this.context.secrets.store(TOKEN_KEY, value);
    }
  }
}

type Node = { group: "live" | "recent" } | { row: SessionRow } | { message: string };

/** The "Claude Code" view: live sessions first (this workspace's marked), then recent ones. */
class SessionsView implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private down: string | null = null;

  constructor(private readonly model: SessionModel) {}

  setDown(reason: string | null): void {
    this.down = reason;
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  getChildren(node?: Node): Node[] {
    const now = Date.now();
    if (!node) {
      if (this.down) {
        // Empty: the welcome view says that no monitor answers and how to start one.
        return [];
      }
      return [{ group: "live" }, { group: "recent" }];
    }
    if ("group" in node) {
      const sessions = node.group === "live" ? this.model.live() : this.model.recent();
      if (sessions.length === 0) {
        return [{ message: node.group === "live" ? "No live session" : "No session yet" }];
      }
      return sessions.map((s) => ({ row: this.model.row(s, now) }));
    }
    return [];
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if ("group" in node) {
      const n = node.group === "live" ? this.model.live().length : this.model.recent().length;
      const item = new vscode.TreeItem(
        node.group === "live" ? `Live (${n})` : "Recent",
        vscode.TreeItemCollapsibleState.Expanded,
      );
      item.id = `group:${node.group}`;
      return item;
    }
    if ("message" in node) {
      return new vscode.TreeItem(node.message, vscode.TreeItemCollapsibleState.None);
    }
    const { row } = node;
    const s = row.session;
    const item = new vscode.TreeItem(row.label, vscode.TreeItemCollapsibleState.None);
    item.id = `session:${s.session_id}`;
    item.description = row.description;
    item.tooltip = format.tooltipLines(s, this.model.budgets, Date.now()).join("\n");
    item.iconPath = icon(s, row.inWorkspace);
    item.contextValue = row.live ? "liveSession" : "session";
    item.command = { title: "Open session page", command: "cclive.openSession", arguments: [s.session_id] };
    item.accessibilityInformation = { label: `${row.label} ${row.description}` };
    return item;
  }
}

function icon(s: Session, inWorkspace: boolean): vscode.ThemeIcon {
  switch (s.status) {
    case "ACTIVE":
      return new vscode.ThemeIcon("pulse", new vscode.ThemeColor(inWorkspace ? "charts.orange" : "charts.yellow"));
    case "IDLE":
      return new vscode.ThemeIcon("bell", new vscode.ThemeColor("charts.red"));
    case "COMPLETED":
      return new vscode.ThemeIcon("check", inWorkspace ? new vscode.ThemeColor("charts.green") : undefined);
    case "FAILED":
      return new vscode.ThemeIcon("error", new vscode.ThemeColor("errorForeground"));
    case "INTERRUPTED":
      return new vscode.ThemeIcon("debug-stop");
    default:
      return new vscode.ThemeIcon("circle-outline");
  }
}
