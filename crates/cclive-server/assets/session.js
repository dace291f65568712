// cclive session page: one session's figures (live while it runs), its performance (where the
// time went, tools, cache, cost per line, costliest turns) and its timeline of turns, tool calls,
// tokens and cost per turn. The only page that shows transcript text (the prompt previews and
// the command line).
"use strict";

(() => {
  const { h, usd, int, compact, duration, percent, time, withUnit, totalTokens, plural } = cc;
  const id = decodeURIComponent(location.pathname.split("/")[2] || "");
  const api = `/api/sessions/${encodeURIComponent(id)}`;
  let current = null;
  /** The duration shown (ms) and when (performance.now()), so the timer ticks here. */
  let shownMs = 0;
  let shownAt = 0;
  let ticker = null;
  let timelineTimer = null;
  let signature = "";

  const $ = (x) => document.getElementById(x);
  const isLive = (s) => s.status === "ACTIVE" || s.status === "IDLE";

  function kv(pairs) {
    return h(
      "dl",
      { class: "kv" },
      pairs.filter(([, v]) => v !== null && v !== undefined && v !== "").map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
    );
  }

  function stat(label, value, attrs) {
    return h("div", {}, h("dt", {}, label), h("dd", attrs || {}, value));
  }

  function fig(label, value, attrs) {
    return h("div", {}, h("dt", {}, label), h("dd", Object.assign({ class: "num" }, attrs || {}), value));
  }

  function renderHead(s) {
    const now = performance.now();
    const shown = current && current.session_id === s.session_id && isLive(current) ? shownMs + (now - shownAt) : 0;
    shownMs = isLive(s) ? Math.max(s.duration_ms, shown) : s.duration_ms;
    shownAt = now;
    current = s;
    document.title = `${cc.place(s)} · ${s.status} · cclive`;
    const t = s.tokens || {};
    const eff = s.efficiency || {};
    const tools = Object.entries(s.tool_calls || {})
      .sort((a, b) => b[1] - a[1])
      .map(([name, n]) => `${name} × ${n}`)
      .join(", ");
    $("head").replaceChildren(
      h("div", { class: "card-head" }, cc.statusBadge(s.status, s.waiting_for), h("h1", {}, s.title || cc.place(s)), cc.origin(s)),
      h(
        "dl",
        { class: "stats" },
        stat("Cost", [usd(s.total_cost_usd), s.cost_source === "estimated" ? h("span", { class: "unit" }, "est.") : null, cc.unpriced(s)], {
          class: "num",
          dataset: { field: "cost", value: String(s.total_cost_usd) },
        }),
        stat("Turns", int(s.num_turns), { class: "num" }),
        stat("Duration", duration(shownMs), { class: "num", dataset: { field: "duration" } }),
        stat("API time", [duration(s.duration_api_ms), h("span", { class: "unit" }, percent(eff.api_time_share))], { class: "num" }),
      ),
      h(
        "dl",
        { class: "figures wide" },
        fig("Input", withUnit(compact(t.input), "tok")),
        fig("Output", withUnit(compact(t.output), "tok")),
        fig("Cache read", withUnit(compact(t.cache_read), "tok")),
        fig("Cache write", withUnit(compact(t.cache_creation), "tok")),
        fig("Cost per turn", eff.cost_per_turn == null ? "–" : withUnit(usd(eff.cost_per_turn), "/turn")),
        fig("Output rate", eff.output_tokens_per_minute == null ? "–" : withUnit(int(eff.output_tokens_per_minute), "tok/min")),
        fig("Cache hit", percent(eff.cache_hit_ratio)),
        fig("API requests", int(s.api_requests)),
      ),
      kv([
        ["Project", s.project_path || s.cwd],
        ["Command", s.command ? h("code", {}, s.command) : null],
        ["Last prompt", s.last_prompt],
        ["Model", s.model],
        ["Claude Code", s.claude_version],
        ["User", s.user],
        ["Host", s.host],
        ["Mode", s.mode],
        ["Started", new Date(s.started_at).toLocaleString()],
        ["Ended", s.ended_at ? new Date(s.ended_at).toLocaleString() : null],
        ["Tools", tools || null],
        ["Tool errors", s.tool_errors ? int(s.tool_errors) : null],
        ["API retries", s.api_retries ? int(s.api_retries) : null],
        ["Lines", s.lines_added || s.lines_removed ? `+${int(s.lines_added)} −${int(s.lines_removed)}` : null],
        ["Error", s.error],
        ["Session id", h("code", {}, s.session_id)],
      ]),
    );
    if (isLive(s) && !ticker) ticker = setInterval(tickDuration, 1000);
    if (!isLive(s) && ticker) {
      clearInterval(ticker);
      ticker = null;
    }
    const sig = [s.status, s.num_turns, s.api_requests, totalTokens(s.tokens), JSON.stringify(s.tool_calls), s.tool_errors].join("|");
    if (sig !== signature) {
      signature = sig;
      scheduleTimeline();
    }
  }

  function tickDuration() {
    const el = document.querySelector('[data-field="duration"]');
    if (el && current) el.textContent = duration(shownMs + (performance.now() - shownAt));
  }

  function scheduleTimeline() {
    clearTimeout(timelineTimer);
    // The store lags the live state by a flush; wait for it.
    timelineTimer = setTimeout(() => {
      loadTimeline();
      loadPerformance();
    }, 400);
  }

  async function loadTimeline() {
    let t;
    try {
      t = await cc.getJSON(`${api}/timeline`);
    } catch (_) {
      return;
    }
    // Claude Code's turns (the header's count): what came before the first prompt is none.
    const counted = t.turns.filter((x) => x.index > 0).length;
    $("timeline-note").textContent = t.turns.length
      ? `${plural(counted, "turn")} from ${int(t.events)} recorded events. ${t.cost_source === "reported" ? "Costs per turn are shares of Claude Code's own total." : "Costs per turn are estimates from the price table."}`
      : "No events were recorded for this session (sessions imported from old transcripts keep totals only).";
    $("timeline").replaceChildren(...t.turns.map(turn));
  }

  async function loadPerformance() {
    let a;
    try {
      a = await cc.getJSON(`${api}/analytics`);
    } catch (_) {
      return;
    }
    $("performance").replaceChildren(...perfSection(a));
  }

  function table(head, rows) {
    return h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, head.map(([label, num]) => h("th", num ? { class: "num" } : {}, label)))),
        h("tbody", {}, rows),
      ),
    );
  }

  function block(title, body) {
    return h("div", {}, h("h3", {}, title), body);
  }

  /** The time split as a bar (SVG: the page's CSP allows no inline style) and its legend. */
  function timeSplit(t) {
    const parts = [
      ["api", "API", t.api_ms, t.api_share],
      ["tools", "tools", t.tool_ms, t.tool_share],
      ["waiting", "waiting for you", t.waiting_ms, t.waiting_share],
      ["other", "other", t.other_ms, t.other_share],
    ];
    if (t.api_share == null) return [h("p", { class: "muted" }, "No wall time recorded yet.")];
    let x = 0;
    const rects = parts
      .filter(([, , , share]) => share > 0)
      .map(([key, , , share]) => {
        const r = cc.s("rect", { class: `part-${key}`, x, y: 0, width: share * 100, height: 4 });
        x += share * 100;
        return r;
      });
    const label = parts.map(([, name, , share]) => `${name} ${percent(share)}`).join(", ");
    return [
      cc.s("svg", { class: "timebar", viewBox: "0 0 100 4", preserveAspectRatio: "none", role: "img", "aria-label": label }, rects),
      h(
        "div",
        { class: "legend" },
        parts.map(([key, name, ms, share]) =>
          h(
            "span",
            { dataset: { part: key, ms: String(ms) } },
            h("span", { class: `swatch part-${key}` }),
            `${name} `,
            h("b", {}, percent(share)),
            ` ${duration(ms)}`,
          ),
        ),
        h("span", {}, "of ", h("b", {}, duration(t.wall_ms)), " wall time"),
      ),
    ];
  }

  function perfSection(a) {
    const tools = a.tools.length
      ? table(
          [["Tool"], ["Calls", true], ["Errors", true], ["Mean", true], ["Max", true]],
          a.tools.slice(0, 8).map((t) =>
            h(
              "tr",
              { dataset: { tool: t.name } },
              h("td", {}, t.name),
              h("td", { class: "num" }, int(t.calls)),
              h("td", { class: t.errors ? "num err" : "num" }, t.errors ? `${int(t.errors)} (${percent(t.error_rate)})` : "0"),
              h("td", { class: "num" }, t.mean_ms == null ? "–" : duration(t.mean_ms)),
              h("td", { class: "num" }, t.max_ms == null ? "–" : duration(t.max_ms)),
            ),
          ),
        )
      : h("p", { class: "muted" }, "No tool calls recorded.");
    const slowest = a.slowest_calls.length
      ? table(
          [["Tool"], ["Turn", true], ["Took", true], ["Result"]],
          a.slowest_calls.map((c) =>
            h(
              "tr",
              { dataset: { slow: c.tool_use_id } },
              h("td", {}, c.name, c.sidechain ? h("span", { class: "unit" }, " sub-agent") : null),
              h("td", { class: "num" }, int(c.turn)),
              h("td", { class: "num" }, duration(c.duration_ms)),
              c.is_error ? h("td", { class: "err" }, "✗ error") : h("td", { class: "okay" }, "✓ ok"),
            ),
          ),
        )
      : h("p", { class: "muted" }, "No finished tool call with a duration.");
    const cache = a.cache;
    const line = a.cost_per_line;
    const money = h(
      "dl",
      { class: "figures" },
      fig("Cache hit", percent(cache.hit_ratio), { dataset: { field: "cache-hit", value: String(cache.hit_ratio) } }),
      fig("Read from cache", withUnit(compact(cache.cache_read), "tok")),
      fig("Written to cache", withUnit(compact(cache.cache_creation), "tok")),
      fig("Reads per write", cache.reads_per_write == null ? "–" : cache.reads_per_write.toFixed(1)),
      fig(
        "Cost per line",
        line ? withUnit(usd(line.usd_per_line), "/line") : "–",
        { dataset: { field: "cost-per-line", value: line ? String(line.usd_per_line) : "" } },
      ),
      fig("Lines changed", line ? `+${int(line.lines_added)} −${int(line.lines_removed)}` : "none reported"),
    );
    const costly = a.costliest_turns.length
      ? table(
          [["Turn", true], ["Prompt"], ["Cost", true], ["Tools", true], ["Took", true]],
          a.costliest_turns.map((t) =>
            h(
              "tr",
              { dataset: { turnCost: t.index, value: String(t.cost_usd) } },
              h("td", { class: "num" }, int(t.index)),
              h("td", { class: "prompt" }, t.prompt || (t.index === 0 ? "(before the first prompt)" : "")),
              h("td", { class: "num" }, usd(t.cost_usd)),
              h("td", { class: "num" }, int(t.tool_calls)),
              h("td", { class: "num" }, duration(t.duration_ms)),
            ),
          ),
        )
      : h("p", { class: "muted" }, "No priced API response recorded.");
    return [
      block("Where the time went", timeSplit(a.time)),
      h(
        "div",
        { class: "perf-grid" },
        block("Top tools", tools),
        block("Slowest tool calls", slowest),
        block("Cache and cost", money),
        block(a.turn_cost_source === "reported" ? "Costliest turns (share of Claude Code's total)" : "Costliest turns (estimated)", costly),
      ),
    ];
  }

  function turn(t) {
    const tools = t.tools.length
      ? h(
          "div",
          { class: "table-wrap tools" },
          h(
            "table",
            {},
            h("thead", {}, h("tr", {}, h("th", {}, "Tool"), h("th", {}, "Started"), h("th", { class: "num" }, "Duration"), h("th", {}, "Result"))),
            h(
              "tbody",
              {},
              t.tools.map((c) =>
                h(
                  "tr",
                  {},
                  h("td", {}, c.name, c.sidechain ? h("span", { class: "unit" }, " sub-agent") : null),
                  h("td", {}, time(c.started_at)),
                  h("td", { class: "num" }, c.duration_ms == null ? "–" : duration(c.duration_ms)),
                  c.is_error === null
                    ? h("td", { class: "muted" }, "running")
                    : c.is_error
                      ? h("td", { class: "err" }, "✗ error")
                      : h("td", { class: "okay" }, "✓ ok"),
                ),
              ),
            ),
          ),
        )
      : null;
    const tk = t.tokens;
    return h(
      "article",
      { class: "panel turn", dataset: { turn: t.index } },
      h(
        "div",
        { class: "turn-head" },
        h("h3", {}, t.index === 0 ? "Before the first prompt" : `Turn ${t.index}`),
        h("span", { class: "muted" }, time(t.started_at)),
        t.prompt ? h("span", { class: "prompt" }, "› " + t.prompt) : t.index > 0 && !t.prompted ? h("span", { class: "muted" }, "the model's next round, after a tool result") : null,
      ),
      h(
        "div",
        { class: "turn-figs" },
        h("span", {}, "cost ", h("b", {}, usd(t.cost_usd)), t.unpriced_models && t.unpriced_models.length ? " + unpriced" : ""),
        h("span", {}, "API requests ", h("b", {}, int(t.api_requests))),
        h("span", {}, "input ", h("b", {}, compact(tk.input))),
        h("span", {}, "output ", h("b", {}, compact(tk.output))),
        h("span", {}, "cache read ", h("b", {}, compact(tk.cache_read))),
        h("span", {}, "cache write ", h("b", {}, compact(tk.cache_creation))),
        t.api_retries ? h("span", {}, "retries ", h("b", {}, int(t.api_retries))) : null,
        h("span", {}, "took ", h("b", {}, duration(new Date(t.last_at) - new Date(t.started_at)))),
      ),
      tools,
    );
  }

  async function load() {
    try {
      renderHead(await cc.getJSON(api));
    } catch (e) {
      $("head").replaceChildren(h("p", {}, `No session ${id} here.`));
      throw e;
    }
  }

  load().catch(() => {});
  cc.live({
    url: `/api/stream?session=${encodeURIComponent(id)}`,
    onState: (snap) => {
      const live = (snap.active_sessions || []).concat(snap.data ? [snap.data] : []).find((s) => s.session_id === id);
      if (live) renderHead(live);
      else load().catch(() => {});
    },
    onUpdate: (u) => {
      if (u.session.session_id === id) renderHead(u.session);
    },
    poll: load,
  });
})();
