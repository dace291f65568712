// cclive dashboard: the live banner and cards (pushed by the server), the history (fetched
// when a session starts or ends, never on a timer), and the Integrations panel (fetched after
// changes, since deliveries follow them; again while one is queued or in flight). The only
// timer while nothing runs is none; while a session is live, one ticks its duration every
// second, here in the browser.
"use strict";

(() => {
  const { h, usd, int, compact, duration, percent, time, ago, withUnit, totalTokens } = cc;

  const state = {
    /** id → {session, base: duration_ms at receipt, at: performance.now() at receipt, delta} */
    live: new Map(),
    /** The last session to end (shown when nothing runs). */
    last: null,
    table: { sort: "started_at", order: "desc", project: "", status: "", offset: 0, limit: 20, total: 0 },
  };
  let ticker = null;
  let historyTimer = null;
  /** The pending Integrations refresh: its timer and when it is due. */
  let sinksTimer = null;
  let sinksDue = Infinity;
  /** False once the monitor said it has no webhook or command (until the next snapshot). */
  let sinksConfigured = true;

  const $ = (id) => document.getElementById(id);

  // ---- live state -------------------------------------------------------------------------

  function isLive(s) {
    return s && (s.status === "ACTIVE" || s.status === "IDLE");
  }

  function remember(s, previous) {
    const old = previous || state.live.get(s.session_id);
    const turnsBefore = old ? old.session.num_turns : s.num_turns;
    const change = s.num_turns - turnsBefore;
    const now = performance.now();
    // An update made for an event carries the duration at that event's time, which may be
    // behind the one already shown: the timer never goes back (the monitor's one-second tick
    // brings the exact figure).
    const shown = old ? old.base + (now - old.at) : 0;
    state.live.set(s.session_id, {
      session: s,
      base: Math.max(s.duration_ms, shown),
      at: now,
      delta: change !== 0 ? change : old ? old.delta : 0,
    });
  }

  function applySnapshot(snap) {
    const before = state.live;
    state.live = new Map();
    for (const s of snap.active_sessions || []) remember(s, before.get(s.session_id));
    if (snap.data && !isLive(snap.data)) state.last = snap.data;
    render();
    scheduleHistory();
    // A (re)connection may be to another monitor, with other integrations.
    sinksConfigured = true;
    scheduleSinks(0);
  }

  function applyUpdate(u) {
    const s = u.session;
    if (isLive(s)) {
      remember(s);
    } else {
      state.live.delete(s.session_id);
      if (!state.last || (s.ended_at || s.updated_at) >= (state.last.ended_at || state.last.updated_at)) {
        state.last = s;
      }
    }
    render();
    if (u.kind === "started" || u.kind === "ended" || u.kind === "status_changed") scheduleHistory();
    // Deliveries follow changes by a moment; progress (every second while live) refreshes the
    // panel at a gentler pace, for budget and block notifications.
    scheduleSinks(u.kind === "progress" ? 5000 : 800);
  }

  // ---- rendering --------------------------------------------------------------------------

  function render() {
    const entries = [...state.live.values()].sort((a, b) => {
      const rank = (e) => (e.session.status === "ACTIVE" ? 0 : 1);
      return rank(a) - rank(b) || (b.session.started_at > a.session.started_at ? 1 : -1);
    });
    const active = entries.filter((e) => e.session.status === "ACTIVE").length;
    const idle = entries.length - active;
    renderBanner(active, idle);
    renderCards(entries);
    const nothing = entries.length === 0;
    $("last").hidden = !(nothing && state.last);
    if (nothing && state.last) renderLast(state.last);
    $("howto").hidden = !nothing;
    document.title = active ? "🔴 LIVE · cclive" : idle ? "⏸ waiting · cclive" : "cclive";
    setTicker(entries.length > 0);
  }

  function renderBanner(active, idle) {
    const b = $("banner");
    const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
    if (active > 0) {
      b.dataset.state = "live";
      b.replaceChildren(
        h("span", {}, "🔴 LIVE SESSION ACTIVE"),
        h("span", { class: "sub" }, plural(active, "session") + " working" + (idle ? ` · ${idle} waiting for you` : "")),
      );
    } else if (idle > 0) {
      b.dataset.state = "idle";
      b.replaceChildren(
        h("span", {}, "⏸ Waiting for you"),
        h("span", { class: "sub" }, `${plural(idle, "session")} idle between turns — nothing is running`),
      );
    } else {
      b.dataset.state = "none";
      const last = state.last;
      b.replaceChildren(
        h("span", {}, "⚫ No Active Session"),
        h("span", { class: "sub" }, last ? `last session ended ${ago(last.ended_at || last.updated_at)}` : "waiting for Claude Code to start"),
      );
    }
  }

  /** A live session's wall time now: the last figure received, plus the time since. */
  function liveDuration(e) {
    return e.base + (performance.now() - e.at);
  }

  function stat(label, value, attrs) {
    return h("div", {}, h("dt", {}, label), h("dd", attrs || {}, value));
  }

  function fig(label, value, attrs) {
    return h("div", {}, h("dt", {}, label), h("dd", Object.assign({ class: "num" }, attrs || {}), value));
  }

  function card(e) {
    const s = e.session;
    const what = s.last_prompt || s.command || s.title || "";
    const t = s.tokens || { input: 0, output: 0, cache_read: 0, cache_creation: 0 };
    const eff = s.efficiency || {};
    const live = s.status === "ACTIVE";
    return h(
      "article",
      { class: "panel card", dataset: { sessionId: s.session_id, status: s.status } },
      h(
        "div",
        { class: "card-head" },
        cc.statusBadge(s.status, s.waiting_for),
        h("h3", { title: s.project_path || s.cwd || "" }, cc.place(s)),
        cc.origin(s),
        h("a", { href: `/sessions/${encodeURIComponent(s.session_id)}` }, "Details →"),
      ),
      what ? h("p", { class: "what", title: what }, "› " + what) : null,
      h(
        "dl",
        { class: "stats" },
        stat("Cost", [usd(s.total_cost_usd), s.cost_source === "estimated" ? h("span", { class: "unit" }, "est.") : null, cc.unpriced(s)], {
          class: "num",
          title: s.cost_source === "estimated" ? "estimated from tokens until Claude Code reports its own total" : "reported by Claude Code",
          dataset: { field: "cost", value: String(s.total_cost_usd) },
        }),
        stat("Turns", [h("span", { dataset: { field: "turns" } }, int(s.num_turns)), e.delta > 0 ? h("span", { class: "delta" }, `+${e.delta}`) : null], {
          class: "num",
        }),
        stat("Duration", duration(liveDuration(e)), { class: "num", dataset: { field: "duration" } }),
        stat("Model", s.model || "–", { class: "text" }),
      ),
      h(
        "div",
        {},
        h("p", { class: "group-title" }, "Tokens"),
        h(
          "dl",
          { class: "figures" },
          fig("Input", withUnit(compact(t.input), "tok")),
          fig("Output", withUnit(compact(t.output), "tok")),
          fig("Cache read", withUnit(compact(t.cache_read), "tok")),
          fig("Cache write", withUnit(compact(t.cache_creation), "tok")),
        ),
      ),
      h(
        "div",
        {},
        h("p", { class: "group-title" }, "Efficiency"),
        h(
          "dl",
          { class: "figures" },
          fig("Cost per turn", eff.cost_per_turn == null ? "–" : withUnit(usd(eff.cost_per_turn), "/turn")),
          fig("Output", eff.output_tokens_per_minute == null ? "–" : withUnit(int(eff.output_tokens_per_minute), "tok/min")),
          fig("Cache hit", percent(eff.cache_hit_ratio)),
          fig("API time", percent(eff.api_time_share)),
        ),
      ),
      live && s.api_retries ? h("p", { class: "muted" }, `${s.api_retries} API retr${s.api_retries === 1 ? "y" : "ies"}`) : null,
    );
  }

  function renderCards(entries) {
    const box = $("live");
    box.hidden = entries.length === 0;
    box.replaceChildren(...entries.map(card));
  }

  function renderLast(s) {
    const t = totalTokens(s.tokens);
    $("last-body").replaceChildren(
      h(
        "div",
        { class: "card-head", dataset: { sessionId: s.session_id } },
        cc.statusBadge(s.status),
        h("h3", { title: s.project_path || s.cwd || "" }, cc.place(s)),
        cc.origin(s),
        h("span", { class: "muted" }, `ended ${ago(s.ended_at || s.updated_at)}`),
        h("a", { href: `/sessions/${encodeURIComponent(s.session_id)}` }, "Details →"),
      ),
      h(
        "dl",
        { class: "figures wide" },
        fig("Cost", [usd(s.total_cost_usd), cc.unpriced(s)], { dataset: { field: "cost", value: String(s.total_cost_usd) } }),
        fig("Turns", int(s.num_turns)),
        fig("Duration", duration(s.duration_ms)),
        fig("Tokens", withUnit(compact(t), "tok")),
        fig("Model", s.model || "–", { class: "text" }),
      ),
    );
  }

  function setTicker(on) {
    if (on && !ticker) {
      ticker = setInterval(tick, 1000);
    } else if (!on && ticker) {
      clearInterval(ticker);
      ticker = null;
    }
  }

  function tick() {
    for (const el of document.querySelectorAll('#live [data-field="duration"]')) {
      const e = state.live.get(el.closest("[data-session-id]").dataset.sessionId);
      if (e) el.textContent = duration(liveDuration(e));
    }
  }

  // ---- history ----------------------------------------------------------------------------

  function scheduleHistory() {
    clearTimeout(historyTimer);
    historyTimer = setTimeout(loadHistory, 250);
  }

  function loadHistory() {
    return Promise.allSettled([loadTotals(), loadCharts(), loadTable()]);
  }

  async function loadTotals() {
    const tz = encodeURIComponent(cc.tz());
    await Promise.all(
      ["day", "week", "month"].map(async (period) => {
        const t = await cc.getJSON(`/api/summary?period=${period}&tz=${tz}`);
        const box = document.querySelector(`.total[data-period="${period}"]`);
        box.querySelector(".value").textContent = usd(t.total_cost_usd);
        box.querySelector(".detail").textContent =
          `${int(t.sessions)} session${t.sessions === 1 ? "" : "s"} · ${int(t.num_turns)} turns · ${compact(totalTokens(t.tokens))} tokens`;
      }),
    );
  }

  async function loadCharts() {
    const c = await cc.getJSON(`/api/costs?days=30&tz=${encodeURIComponent(cc.tz())}`);
    $("chart-days").replaceChildren(cc.dayChart(c.days));
    $("chart-models").replaceChildren(cc.shareChart(c.by_model, "models"));
    $("chart-projects").replaceChildren(cc.shareChart(c.by_project, "projects"));
    $("projects").replaceChildren(...c.by_project.filter((p) => p.name).map((p) => h("option", { value: p.name })));
  }

  async function loadTable() {
    const t = state.table;
    const q = new URLSearchParams({ limit: t.limit, offset: t.offset, sort: t.sort, order: t.order });
    if (t.project) q.set("project", t.project);
    if (t.status) q.set("status", t.status);
    const page = await cc.getJSON(`/api/sessions?${q}`);
    t.total = page.total;
    const rows = page.sessions.map((s) =>
      h(
        "tr",
        { dataset: { sessionId: s.session_id, status: s.status } },
        h("td", {}, h("a", { href: `/sessions/${encodeURIComponent(s.session_id)}`, title: s.started_at }, time(s.started_at))),
        h("td", { class: "project", title: s.project_path || s.cwd || [s.user, s.host].filter(Boolean).join(" @ ") }, cc.place(s)),
        h("td", {}, cc.statusBadge(s.status)),
        h("td", { class: "hide-narrow" }, s.model || "–"),
        h("td", { class: "num" }, duration(s.duration_ms)),
        h("td", { class: "num" }, int(s.num_turns)),
        h("td", { class: "num hide-narrow" }, withUnit(compact(totalTokens(s.tokens)), "tok")),
        h("td", { class: "num", dataset: { field: "cost", value: String(s.total_cost_usd) } }, usd(s.total_cost_usd), cc.unpriced(s)),
      ),
    );
    if (!rows.length) {
      rows.push(h("tr", { class: "empty-row" }, h("td", { colspan: 8 }, t.project || t.status ? "No session matches." : "No sessions yet.")));
    }
    $("sessions-body").replaceChildren(...rows);
    const first = page.total === 0 ? 0 : t.offset + 1;
    const lastRow = Math.min(t.offset + t.limit, page.total);
    $("page-info").textContent = `${int(first)}–${int(lastRow)} of ${int(page.total)}`;
    $("page-prev").disabled = t.offset === 0;
    $("page-next").disabled = t.offset + t.limit >= page.total;
    for (const b of document.querySelectorAll("#sessions th button")) {
      if (b.dataset.sort === t.sort) b.setAttribute("aria-sort", t.order === "asc" ? "ascending" : "descending");
      else b.removeAttribute("aria-sort");
    }
  }

  function wireTable() {
    const t = state.table;
    let typing = null;
    $("filter-project").addEventListener("input", (e) => {
      clearTimeout(typing);
      typing = setTimeout(() => {
        t.project = e.target.value.trim();
        t.offset = 0;
        loadTable();
      }, 300);
    });
    $("filter-status").addEventListener("change", (e) => {
      t.status = e.target.value;
      t.offset = 0;
      loadTable();
    });
    for (const b of document.querySelectorAll("#sessions th button")) {
      b.addEventListener("click", () => {
        const key = b.dataset.sort;
        if (t.sort === key) t.order = t.order === "asc" ? "desc" : "asc";
        else {
          t.sort = key;
          t.order = ["project", "model", "status"].includes(key) ? "asc" : "desc";
        }
        t.offset = 0;
        loadTable();
      });
    }
    $("page-prev").addEventListener("click", () => {
      t.offset = Math.max(0, t.offset - t.limit);
      loadTable();
    });
    $("page-next").addEventListener("click", () => {
      if (t.offset + t.limit < t.total) t.offset += t.limit;
      loadTable();
    });
  }

  // ---- integrations -----------------------------------------------------------------------

  /** Refreshes the Integrations panel in `ms` (sooner if one is already due sooner). */
  function scheduleSinks(ms) {
    if (!sinksConfigured) return;
    const due = performance.now() + ms;
    if (sinksTimer && sinksDue <= due) return;
    clearTimeout(sinksTimer);
    sinksDue = due;
    sinksTimer = setTimeout(loadSinks, ms);
  }

  async function loadSinks() {
    sinksTimer = null;
    sinksDue = Infinity;
    let answer;
    try {
      answer = await cc.getJSON("/api/integrations");
    } catch (_) {
      return; // the stream's reconnection brings a snapshot, which asks again
    }
    const sinks = answer.sinks || [];
    sinksConfigured = sinks.length > 0;
    $("integrations").hidden = !sinksConfigured;
    $("sinks").replaceChildren(...sinks.map(sinkPanel));
    // A delivery queued or under way ends soon (or is retried): look again until it has.
    if (sinks.some((s) => s.queued > 0 || s.in_flight)) scheduleSinks(2000);
  }

  /** What a delivery's outcome says: "delivered", "HTTP 503", "exit 3", "dropped", … */
  function outcomeText(d) {
    const code = d.http_status != null ? `HTTP ${d.http_status}` : d.exit_code != null ? `exit ${d.exit_code}` : "";
    if (d.outcome === "delivered") return code ? `delivered (${code})` : "delivered";
    if (d.outcome === "dropped") return "dropped";
    return code || "failed";
  }

  function sinkPanel(s) {
    const count = (n, label, bad) => h("span", { class: bad && n > 0 ? "bad" : null, dataset: { count: label } }, h("b", {}, int(n)), ` ${label}`);
    const recent = (s.recent || []).slice(0, 10);
    return h(
      "article",
      { class: "panel sink", dataset: { sink: s.name, kind: s.kind } },
      h(
        "div",
        { class: "sink-head" },
        h("span", { class: "badge" }, s.kind),
        h("h3", {}, s.name),
        h("span", { class: "target" }, s.target),
      ),
      h(
        "div",
        { class: "counts" },
        count(s.delivered, "delivered"),
        count(s.failed, "failed", true),
        count(s.dropped, "dropped", true),
        s.retries ? count(s.retries, s.retries === 1 ? "retry" : "retries") : null,
        s.queued ? count(s.queued, "queued") : null,
        s.in_flight ? h("span", {}, "sending…") : null,
        h("span", { title: (s.events || []).join(", ") }, `${(s.events || []).length} events`),
      ),
      s.last_error ? h("p", { class: "last-error" }, `Last failure ${ago(s.last_error_at)}: ${s.last_error}`) : null,
      recent.length
        ? h(
            "div",
            { class: "table-wrap" },
            h(
              "table",
              { class: "deliveries" },
              h(
                "thead",
                {},
                h("tr", {}, h("th", {}, "When"), h("th", {}, "Event"), h("th", { class: "hide-narrow" }, "Session"), h("th", {}, "Outcome"), h("th", { class: "num" }, "Attempts"), h("th", { class: "num" }, "Time"), h("th", { class: "hide-narrow" }, "Error")),
              ),
              h(
                "tbody",
                {},
                recent.map((d) =>
                  h(
                    "tr",
                    { class: d.outcome, dataset: { delivery: d.id, outcome: d.outcome } },
                    h("td", { title: d.at }, time(d.at)),
                    h("td", {}, d.event),
                    h(
                      "td",
                      { class: "hide-narrow mono" },
                      d.session_id ? h("a", { href: `/sessions/${encodeURIComponent(d.session_id)}`, title: d.session_id }, d.session_id.slice(0, 8)) : "–",
                    ),
                    h("td", { class: d.outcome === "delivered" ? "outcome okay" : "outcome" }, outcomeText(d)),
                    h("td", { class: "num" }, int(d.attempts)),
                    h("td", { class: "num" }, duration(d.duration_ms)),
                    // "HTTP 503" is already the outcome; say only what it does not.
                    h("td", { class: "hide-narrow error" }, d.error && d.error !== outcomeText(d) ? d.error : ""),
                  ),
                ),
              ),
            ),
          )
        : h("p", { class: "muted" }, "Nothing delivered yet."),
    );
  }

  // ---- start ------------------------------------------------------------------------------

  wireTable();
  cc.live({
    url: "/api/stream",
    onState: applySnapshot,
    onUpdate: applyUpdate,
    poll: async () => applySnapshot(await cc.getJSON("/api/current-session")),
  });
})();
