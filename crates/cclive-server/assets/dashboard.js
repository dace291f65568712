// cclive dashboard: the live banner and cards (pushed by the server), the block, budgets and
// limits panel (the official limits arrive with the pushed state; the block and budgets are
// fetched after each change of usage the stream pushes), the history (fetched when a session
// starts or ends, never on a timer) over a date range kept in the URL with the table's sort,
// filters and page, and the Integrations panel (fetched after changes, since deliveries follow
// them; again while one is queued or in flight). While a session is live or a block runs, one
// timer ticks durations and time left every second, here in the browser; otherwise none.
"use strict";

(() => {
  const { h, usd, int, compact, duration, percent, time, ago, withUnit, totalTokens, plural } = cc;

  /** What the URL holds, and its defaults (left out of the URL). */
  const DEFAULTS = { range: "30d", from: "", to: "", sort: "started_at", order: "desc", project: "", status: "", model: "", day: "", page: 1, size: 20 };
  const SIZES = [10, 20, 50, 100];
  const RANGE_NAMES = { today: "today", "7d": "last 7 days", "30d": "last 30 days", month: "this month", "last-month": "last month", all: "all time" };

  const state = {
    /** id → {session, base: duration_ms at receipt, at: performance.now() at receipt, delta} */
    live: new Map(),
    /** The last session to end (shown when nothing runs). */
    last: null,
    /** The range, sort, filters and page: what the URL says. */
    view: Object.assign({}, DEFAULTS),
    /** Sessions matching the table's filters. */
    total: 0,
    /** Sessions ever recorded (null until known). */
    allSessions: null,
    /** The last `/api/costs` answer, redrawn when the window is resized. */
    costs: null,
    /** The last `/api/limits` answer, and performance.now() when it came. */
    limits: null,
    limitsAt: 0,
    /** Usage figures last seen per session, to notice a change of usage. */
    usage: new Map(),
    /** True while the monitor's catch-up import runs (the history is incomplete). */
    importing: false,
  };
  let limitsTimer = null;
  let limitsTrailing = null;
  let blockEndTimer = null;
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
    scheduleLimits(0);
    applyRateLimits(snap.rate_limits);
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
    // The block and budgets move with usage; the store has it a moment after the update.
    const figures = `${s.api_requests}|${totalTokens(s.tokens)}`;
    if (state.usage.get(s.session_id) !== figures) {
      state.usage.set(s.session_id, figures);
      scheduleLimits(600);
      // Once more after the burst, for usage the store had not committed at the first look.
      clearTimeout(limitsTrailing);
      limitsTrailing = setTimeout(() => scheduleLimits(0), 2500);
    }
    applyRateLimits(s.rate_limits);
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
    renderHowto();
    document.title = active ? "● LIVE · cclive" : idle ? "waiting · cclive" : "cclive";
    setTicker(entries.length > 0 || blockRunning());
  }

  /** "Start monitoring" only while there is nothing at all: no live session, no history. */
  function renderHowto() {
    $("howto").hidden = state.importing || !(state.live.size === 0 && !state.last && state.allSessions === 0);
  }

  /** A dot drawn with CSS (no emoji font needed). */
  function dot(kind) {
    return h("span", { class: `dot ${kind}`, "aria-hidden": "true" });
  }

  function renderBanner(active, idle) {
    const b = $("banner");
    if (active > 0) {
      b.dataset.state = "live";
      b.replaceChildren(
        h("span", { class: "headline" }, dot("live"), "LIVE SESSION ACTIVE"),
        h("span", { class: "sub" }, plural(active, "session") + " working" + (idle ? ` · ${idle} waiting for you` : "")),
      );
    } else if (idle > 0) {
      b.dataset.state = "idle";
      b.replaceChildren(
        h("span", { class: "headline" }, dot("idle"), "Waiting for you"),
        h("span", { class: "sub" }, `${plural(idle, "session")} idle between turns — nothing is running`),
      );
    } else {
      b.dataset.state = "none";
      const last = state.last;
      b.replaceChildren(
        h("span", { class: "headline" }, dot("none"), "No Active Session"),
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
          // While a response streams, its output grows with every delta: an estimate (≈)
          // until its final usage replaces it.
          s.streaming_output_tokens
            ? fig("Output", withUnit("≈" + compact(t.output + s.streaming_output_tokens), "tok"), {
                title: "estimated from the reply streamed so far, until the response's final count",
                dataset: { field: "output", streaming: "true" },
              })
            : fig("Output", withUnit(compact(t.output), "tok"), { dataset: { field: "output" } }),
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
      live && s.api_retries ? h("p", { class: "muted" }, plural(s.api_retries, "API retry", "API retries")) : null,
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
    const left = document.querySelector('#block [data-field="block-left"]');
    if (left && state.limits && state.limits.block) left.textContent = duration(blockLeft(state.limits.block));
    const reported = document.querySelector('#official [data-field="reported"]');
    if (reported && state.limits.rate_limits) reported.textContent = reportedText(state.limits.rate_limits);
    if (!state.live.size && !blockRunning()) setTicker(false);
  }

  // ---- block, budgets and limits ------------------------------------------------------

  /** Fetches the panel in `ms` (a pending fetch is not pushed back: bursts fetch once). */
  function scheduleLimits(ms) {
    if (limitsTimer) return;
    limitsTimer = setTimeout(loadLimits, ms);
  }

  async function loadLimits() {
    limitsTimer = null;
    let answer;
    try {
      answer = await cc.getJSON("/api/limits");
    } catch (_) {
      return; // the stream's reconnection brings a snapshot, which asks again
    }
    // The official limits may have been pushed since the request left: keep the newer ones.
    const pushed = state.limits && state.limits.rate_limits;
    if (pushed && newer(pushed, answer.rate_limits)) answer.rate_limits = pushed;
    state.limits = answer;
    state.limitsAt = performance.now();
    renderLimits();
    clearTimeout(blockEndTimer);
    if (answer.block) {
      // When its five hours are over, the panel says so without any other change.
      blockEndTimer = setTimeout(() => scheduleLimits(0), Math.min(answer.block.remaining_ms + 1000, 2 ** 31 - 1));
    }
    setTicker(state.live.size > 0 || blockRunning());
  }

  function newer(a, b) {
    return !b || (a.reported_at || "") > (b.reported_at || "");
  }

  /** Official limits pushed with the state or an update. */
  function applyRateLimits(limits) {
    if (!limits || !state.limits) return;
    if (!newer(limits, state.limits.rate_limits)) return;
    state.limits.rate_limits = limits;
    renderOfficial();
  }

  function blockRunning() {
    return !!(state.limits && state.limits.block && blockLeft(state.limits.block) > 0);
  }

  function blockLeft(b) {
    return Math.max(0, b.remaining_ms - (performance.now() - state.limitsAt));
  }

  function renderLimits() {
    renderBlock();
    renderBudgets();
    renderOfficial();
  }

  /** A gauge: `percent` of its length filled, coloured by `level` (ok, notice, warning, exceeded). */
  function gauge(pct, level, label) {
    const fill = h("span", { class: "fill" });
    fill.style.width = `${Math.max(0, Math.min(100, pct || 0))}%`;
    return h(
      "div",
      { class: "gauge", role: "meter", "aria-label": label, "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": Math.round(pct || 0), dataset: { level } },
      fill,
    );
  }

  function levelOf(pct) {
    return pct >= 100 ? "exceeded" : pct >= 80 ? "warning" : pct >= 50 ? "notice" : "ok";
  }

  function clock(iso, withDay) {
    const d = new Date(iso);
    const opts = withDay ? { weekday: "short", hour: "2-digit", minute: "2-digit" } : { hour: "2-digit", minute: "2-digit" };
    return d.toLocaleString(undefined, opts);
  }

  function renderBlock() {
    const b = state.limits.block;
    const body = $("block-body");
    if (!state.limits.available) {
      body.replaceChildren(h("p", { class: "muted" }, "Not available from this server."));
      return;
    }
    if (!b) {
      body.replaceChildren(h("p", { class: "muted", dataset: { field: "no-block" } }, "No block running. The next one starts with your next prompt and lasts five hours."));
      return;
    }
    const elapsed = (5 * 3600e3 - blockLeft(b)) / (5 * 3600e3);
    body.replaceChildren(
      h(
        "div",
        { class: "big" },
        h("span", { class: "num", dataset: { field: "block-cost", value: String(b.cost_usd) } }, usd(b.cost_usd)),
        h("span", { class: "unit" }, `${compact(b.total_tokens)} tokens · ${plural(b.messages, "API response")}`),
      ),
      gauge(elapsed * 100, "time", "share of the block's five hours gone"),
      h(
        "dl",
        { class: "figures" },
        fig("Burn rate", b.cost_per_hour == null ? "–" : [usd(b.cost_per_hour), h("span", { class: "unit" }, "/h"), " · ", int(b.tokens_per_minute), h("span", { class: "unit" }, "tok/min")], { dataset: { field: "burn" } }),
        fig("Projected", b.projected_cost_usd == null ? "–" : [usd(b.projected_cost_usd), h("span", { class: "unit" }, `by ${clock(b.end)}`)], { dataset: { field: "block-projected" } }),
        fig("Time left", duration(blockLeft(b)), { dataset: { field: "block-left" } }),
        fig("Window", `${clock(b.start)}–${clock(b.end)}`),
      ),
    );
  }

  const PERIOD_NAMES = { day: "Today", week: "This week", month: "This month" };
  const PERIOD_ENDS = { day: "by midnight", week: "by the week's end", month: "by the month's end" };

  function budgetRow(name, p, limit, pct, level, projected, attrs) {
    return h(
      "div",
      Object.assign({ class: "budget" }, attrs),
      h(
        "div",
        { class: "budget-head" },
        h("span", { class: "name" }, name),
        limit == null
          ? h("span", { class: "num" }, usd(p), h("span", { class: "unit" }, "no limit"))
          : h("span", { class: "num" }, usd(p), h("span", { class: "unit" }, `of ${usd(limit)}`), " ", h("b", { class: `pct ${level}` }, `${Math.floor(pct)}%`)),
      ),
      limit == null ? null : gauge(pct, level, `${name}: ${Math.floor(pct)}% of the limit`),
      h("div", { class: "muted small" }, projected),
    );
  }

  function renderBudgets() {
    const L = state.limits;
    const body = $("budgets-body");
    if (!L.available) {
      body.replaceChildren(h("p", { class: "muted" }, "Not available from this server."));
      return;
    }
    const rows = L.periods.map((p) =>
      budgetRow(
        PERIOD_NAMES[p.period] || p.period,
        p.spent_usd,
        p.limit_usd,
        p.percent,
        p.level,
        `→ ${usd(p.projected_usd)} ${PERIOD_ENDS[p.period] || ""} at this pace`,
        { dataset: { period: p.period, level: p.level || "none" } },
      ),
    );
    for (const b of L.budgets.filter((b) => b.project)) {
      rows.push(
        budgetRow(`${b.project} · ${PERIOD_NAMES[b.period].toLowerCase()}`, b.spent_usd, b.limit_usd, b.percent, b.level, `→ ${usd(b.projected_usd)} ${PERIOD_ENDS[b.period] || ""}`, {
          dataset: { project: b.project, period: b.period, level: b.level },
        }),
      );
    }
    if (!L.budgets.length) {
      rows.push(h("p", { class: "muted small" }, "No limit set. Add daily_usd, weekly_usd or monthly_usd under [budget] in cclive's config (", h("code", {}, "cclive config"), ") for gauges and alerts."));
    }
    body.replaceChildren(...rows);
  }

  function officialRow(name, l, withDay) {
    if (!l) return null;
    const pct = l.used_percentage;
    const resets = l.resets_at ? (new Date(l.resets_at) <= new Date() ? "reset since" : `resets ${clock(l.resets_at, withDay)}`) : "";
    return h(
      "div",
      { class: "budget", dataset: { window: name, level: levelOf(pct) } },
      h("div", { class: "budget-head" }, h("span", { class: "name" }, name), h("span", { class: "num" }, h("b", { class: `pct ${levelOf(pct)}`, dataset: { field: "used" } }, `${Math.floor(pct)}%`), h("span", { class: "unit" }, "used"))),
      gauge(pct, levelOf(pct), `${name}: ${Math.floor(pct)}% used`),
      h("div", { class: "muted small" }, resets),
    );
  }

  function renderOfficial() {
    const r = state.limits && state.limits.rate_limits;
    const body = $("official-body");
    if (!r) {
      body.replaceChildren(
        h("p", { class: "muted small", dataset: { field: "no-limits" } }, "None reported yet. On Pro and Max plans Claude Code gives them to its status line; let cclive have it: ", h("code", {}, "cclive hooks install --statusline")),
      );
      return;
    }
    body.replaceChildren(
      officialRow("5-hour", r.five_hour, false),
      officialRow("7-day", r.seven_day, true),
      h("p", { class: "muted small", dataset: { field: "reported" }, title: r.reported_at || "" }, reportedText(r)),
    );
  }

  /** How old the official limits are ("Reported 5 min ago by …"). */
  function reportedText(r) {
    return r.reported_at ? `Reported ${ago(r.reported_at)} by Claude Code's status line` : "Reported by Claude Code's status line";
  }

  // ---- history ----------------------------------------------------------------------------

  function readUrl() {
    const q = new URLSearchParams(location.search);
    const v = Object.assign({}, DEFAULTS);
    for (const k of Object.keys(DEFAULTS)) {
      const raw = q.get(k);
      if (raw == null || raw === "") continue;
      v[k] = typeof DEFAULTS[k] === "number" ? parseInt(raw, 10) || DEFAULTS[k] : raw;
    }
    if (!RANGE_NAMES[v.range] && v.range !== "custom") v.range = DEFAULTS.range;
    if (v.from || v.to) v.range = "custom";
    if (!SIZES.includes(v.size)) v.size = DEFAULTS.size;
    v.order = v.order === "asc" ? "asc" : "desc";
    v.page = Math.max(1, v.page);
    state.view = v;
  }

  /** The view into the URL (only what differs from the defaults), without a new history entry. */
  function writeUrl() {
    const q = new URLSearchParams();
    for (const [k, d] of Object.entries(DEFAULTS)) {
      const v = state.view[k];
      if (k === "range" && v === "custom") continue;
      if (v !== d && v !== "" && v != null) q.set(k, String(v));
    }
    const qs = q.toString();
    history.replaceState(null, "", qs ? `?${qs}` : location.pathname);
  }

  /** The range part of a request: the preset, or the custom days. */
  function rangeParams() {
    const v = state.view;
    const q = new URLSearchParams({ tz: cc.tz() });
    if (v.range === "custom") {
      if (v.from) q.set("from", v.from);
      if (v.to) q.set("to", v.to);
    } else {
      q.set("range", v.range);
    }
    return q;
  }

  function rangeLabel() {
    const v = state.view;
    if (v.range !== "custom") return RANGE_NAMES[v.range];
    if (v.from && v.to) return v.from === v.to ? v.from : `${v.from} – ${v.to}`;
    return v.from ? `since ${v.from}` : `until ${v.to}`;
  }

  function showView() {
    const v = state.view;
    for (const b of document.querySelectorAll("[data-range]")) b.setAttribute("aria-pressed", String(b.dataset.range === v.range));
    $("range-from").value = v.from;
    $("range-to").value = v.to;
    for (const el of document.querySelectorAll(".range-label")) el.textContent = rangeLabel();
    $("filter-project").value = v.project;
    $("filter-status").value = v.status;
    $("page-size").value = String(v.size);
    const sortValue = `${v.sort}:${v.order}`;
    const sel = $("sort-select");
    if (![...sel.options].some((o) => o.value === sortValue)) sel.append(h("option", { value: sortValue }, `${v.sort} (${v.order})`));
    sel.value = sortValue;
    const chips = [];
    if (v.day) chips.push(chip("day", v.day.includes("..") ? v.day.replace("..", " – ") : v.day));
    if (v.model) chips.push(chip("model", v.model));
    if (v.project) chips.push(chip("project", cc.base(v.project)));
    $("chips").replaceChildren(...chips);
  }

  function chip(key, text) {
    return h(
      "button",
      { type: "button", class: "chip", dataset: { chip: key }, title: `Show every ${key}` },
      `${key}: ${text}`,
      h("span", { class: "x", "aria-hidden": "true" }, "×"),
    );
  }

  /** The view changed: URL, controls, and what depends on it. */
  function changed(what) {
    writeUrl();
    showView();
    if (what === "range") {
      loadTotals();
      loadCharts();
    }
    loadTable();
  }

  function scheduleHistory() {
    clearTimeout(historyTimer);
    historyTimer = setTimeout(loadHistory, 250);
  }

  function loadHistory() {
    return Promise.allSettled([loadTotals(), loadCharts(), loadTable()]);
  }

  function sessionsLine(t) {
    return `${plural(t.sessions, "session")} · ${plural(t.num_turns, "turn")} · ${compact(totalTokens(t.tokens))} tokens`;
  }

  async function loadTotals() {
    const [t, all] = await Promise.all([cc.getJSON(`/api/summary?${rangeParams()}`), cc.getJSON(`/api/summary?range=all&tz=${encodeURIComponent(cc.tz())}`)]);
    const box = document.querySelector('.total[data-total="range"]');
    box.querySelector(".label").textContent = rangeLabel().replace(/^./, (c) => c.toUpperCase());
    box.querySelector(".value").replaceChildren(usd(t.total_cost_usd), cc.unpriced(t) || "");
    const allBox = document.querySelector('.total[data-total="all"]');
    const since = all.first_started_at ? ` · since ${new Date(all.first_started_at).toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" })}` : "";
    box.querySelector(".detail").textContent = sessionsLine(t);
    allBox.querySelector(".value").replaceChildren(usd(all.total_cost_usd), cc.unpriced(all) || "");
    allBox.querySelector(".detail").textContent = sessionsLine(all) + since;
    // "All time" twice says nothing more.
    allBox.hidden = state.view.range === "all";
    if (allBox.hidden) box.querySelector(".detail").textContent += since;
    state.allSessions = all.sessions;
    renderHowto();
  }

  async function loadCharts() {
    const c = await cc.getJSON(`/api/costs?${rangeParams()}`);
    state.costs = c;
    drawCharts();
    const avg = document.querySelector('.total[data-total="average"]');
    const used = c.days.filter((d) => d.requests > 0).length;
    avg.querySelector(".value").textContent = c.days.length ? usd(c.total_cost_usd / c.days.length) : "–";
    avg.querySelector(".detail").textContent = `estimated over ${plural(c.days.length, "day")} · ${used} with use`;
    $("projects").replaceChildren(...c.by_project.filter((p) => p.name).map((p) => h("option", { value: p.name })));
  }

  function drawCharts() {
    const c = state.costs;
    if (!c) return;
    const box = $("chart-days");
    const buckets = cc.bucketDays(c.days);
    $("days-title").textContent = `Cost per ${buckets.unit}`;
    const v = state.view;
    const onPick = (b) => filterTable({ day: b.from === b.to ? b.from : `${b.from}..${b.to}` });
    box.replaceChildren(cc.dayChart(buckets, box.clientWidth || 600, onPick, v.day.split("..")[0]));
    $("chart-models").replaceChildren(cc.shareList(c.by_model, "model", v.model, (r) => filterTable({ model: r.name })));
    $("chart-projects").replaceChildren(cc.shareList(c.by_project, "project", v.project, (r) => filterTable({ project: r.name })));
  }

  /** A click on a chart: the table shows that day, model or project (a second click clears it). */
  function filterTable(f) {
    const v = state.view;
    for (const [k, val] of Object.entries(f)) v[k] = v[k] === val ? "" : val || "";
    v.page = 1;
    changed("table");
    drawCharts();
  }

  async function loadTable() {
    const v = state.view;
    const q = v.day ? new URLSearchParams({ tz: cc.tz(), from: v.day.split("..")[0], to: v.day.split("..").pop() }) : rangeParams();
    q.set("limit", v.size);
    q.set("offset", (v.page - 1) * v.size);
    q.set("sort", v.sort);
    q.set("order", v.order);
    if (v.project) q.set("project", v.project);
    if (v.status) q.set("status", v.status);
    if (v.model) q.set("model", v.model);
    const page = await cc.getJSON(`/api/sessions?${q}`);
    if (page.sessions.length === 0 && page.total > 0 && v.page > 1) {
      // A shared link to a page past the end: the last page instead.
      v.page = Math.max(1, Math.ceil(page.total / v.size));
      writeUrl();
      return loadTable();
    }
    state.total = page.total;
    const cell = (label, attrs, ...content) => {
      const a = Object.assign({}, attrs);
      a.dataset = Object.assign({ label }, a.dataset || {});
      return h("td", a, ...content);
    };
    const rows = page.sessions.map((s) =>
      h(
        "tr",
        { dataset: { sessionId: s.session_id, status: s.status } },
        cell("Started", { class: "started" }, h("a", { href: `/sessions/${encodeURIComponent(s.session_id)}`, title: s.started_at }, time(s.started_at))),
        cell("Project", { class: "project", title: s.project_path || s.cwd || [s.user, s.host].filter(Boolean).join(" @ ") }, cc.place(s)),
        cell("Status", { class: "status" }, cc.statusBadge(s.status)),
        cell("Model", { class: "hide-narrow" }, s.model || "–"),
        cell("Duration", { class: "num", dataset: { field: "duration" } }, duration(s.duration_ms)),
        cell("Turns", { class: "num", dataset: { field: "turns" } }, int(s.num_turns)),
        cell("Tokens", { class: "num hide-narrow" }, withUnit(compact(totalTokens(s.tokens)), "tok")),
        cell("Cost", { class: "num cost", dataset: { field: "cost", value: String(s.total_cost_usd) } }, usd(s.total_cost_usd), cc.unpriced(s)),
      ),
    );
    const filtered = v.project || v.status || v.model || v.day;
    if (!rows.length) {
      rows.push(h("tr", { class: "empty-row" }, h("td", { colspan: 8 }, filtered ? "No session matches." : `No sessions in ${rangeLabel()}.`)));
    }
    $("sessions-body").replaceChildren(...rows);
    const first = page.total === 0 ? 0 : (v.page - 1) * v.size + 1;
    const lastRow = Math.min(v.page * v.size, page.total);
    $("page-info").textContent = `${int(first)}–${int(lastRow)} of ${int(page.total)}`;
    $("page-prev").disabled = v.page <= 1;
    $("page-next").disabled = v.page * v.size >= page.total;
    for (const b of document.querySelectorAll("#sessions th button")) {
      if (b.dataset.sort === v.sort) b.setAttribute("aria-sort", v.order === "asc" ? "ascending" : "descending");
      else b.removeAttribute("aria-sort");
    }
  }

  function wireTable() {
    const v = () => state.view;
    let typing = null;
    $("filter-project").addEventListener("input", (e) => {
      clearTimeout(typing);
      typing = setTimeout(() => {
        v().project = e.target.value.trim();
        v().page = 1;
        changed("table");
        drawCharts();
      }, 300);
    });
    $("filter-status").addEventListener("change", (e) => {
      v().status = e.target.value;
      v().page = 1;
      changed("table");
    });
    $("page-size").addEventListener("change", (e) => {
      v().size = parseInt(e.target.value, 10) || DEFAULTS.size;
      v().page = 1;
      changed("table");
    });
    $("sort-select").addEventListener("change", (e) => {
      const [sort, order] = e.target.value.split(":");
      Object.assign(v(), { sort, order, page: 1 });
      changed("table");
    });
    for (const b of document.querySelectorAll("#sessions th button")) {
      b.addEventListener("click", () => {
        const key = b.dataset.sort;
        if (v().sort === key) v().order = v().order === "asc" ? "desc" : "asc";
        else {
          v().sort = key;
          v().order = ["project", "model", "status"].includes(key) ? "asc" : "desc";
        }
        v().page = 1;
        changed("table");
      });
    }
    $("page-prev").addEventListener("click", () => {
      v().page = Math.max(1, v().page - 1);
      changed("table");
    });
    $("page-next").addEventListener("click", () => {
      if (v().page * v().size < state.total) v().page += 1;
      changed("table");
    });
    for (const b of document.querySelectorAll("[data-range]")) {
      b.addEventListener("click", () => {
        Object.assign(v(), { range: b.dataset.range, from: "", to: "", day: "", page: 1 });
        changed("range");
      });
    }
    for (const id of ["range-from", "range-to"]) {
      $(id).addEventListener("change", () => {
        const from = $("range-from").value;
        const to = $("range-to").value;
        if (!from && !to) Object.assign(v(), { range: DEFAULTS.range, from: "", to: "" });
        else Object.assign(v(), { range: "custom", from, to });
        if (from && to && from > to) return; // the other end is still being chosen
        Object.assign(v(), { day: "", page: 1 });
        changed("range");
      });
    }
    $("chips").addEventListener("click", (e) => {
      const b = e.target.closest("[data-chip]");
      if (!b) return;
      v()[b.dataset.chip] = "";
      v().page = 1;
      changed("table");
      drawCharts();
    });
    let resizing = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizing);
      resizing = setTimeout(drawCharts, 150);
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
        h("span", { title: (s.events || []).join(", ") }, plural((s.events || []).length, "event")),
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

  // ---- catch-up import ---------------------------------------------------------------------

  /** While the monitor imports the history, shows how far it is (asked twice a second, only
   * then); once it is done, loads the history it stored. */
  async function watchImport() {
    let p;
    try {
      p = await cc.getJSON("/api/import");
    } catch (_) {
      return; // an older monitor without the route, or gone: nothing to show
    }
    const was = state.importing;
    state.importing = p.importing;
    $("importing").hidden = !p.importing;
    if (p.importing) {
      const mb = (b) => (b / 1048576).toFixed(b < 10485760 ? 1 : 0);
      $("import-text").textContent = p.files_total
        ? `${int(p.files_done)} of ${plural(p.files_total, "file")} (${mb(p.bytes_done)} of ${mb(p.bytes_total)} MB)`
        : "finding transcripts…";
      const bar = $("import-bar");
      bar.max = Math.max(p.bytes_total, 1);
      bar.value = Math.min(p.bytes_done, bar.max);
      renderHowto();
      setTimeout(watchImport, 500);
    } else if (was) {
      loadHistory();
      scheduleLimits(0);
    }
  }

  // ---- start ------------------------------------------------------------------------------

  readUrl();
  showView();
  wireTable();
  watchImport();
  cc.live({
    url: "/api/stream",
    onState: applySnapshot,
    onUpdate: applyUpdate,
    poll: async () => applySnapshot(await cc.getJSON("/api/current-session")),
  });
})();
