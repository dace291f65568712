// cclive team page: who runs Claude Code now across the team, spend per person/project/model,
// budgets and each machine's last contact. Reads /api/team/v1/overview (scoped by the viewer's
// role on the server) and re-reads it whenever /api/team/v1/stream says something changed.
"use strict";

(() => {
  const { h, usd, compact, ago, base, statusBadge, getJSON, setConn, shareList } = cc;
  const $ = (id) => document.getElementById(id);
  const iso = (ms) => (ms == null ? null : new Date(ms).toISOString());

  function card(s) {
    const waiting = s.status === "IDLE" && s.waiting_for;
    return h(
      "article",
      { class: "panel card", dataset: { status: s.status, session: s.session_id } },
      h("div", { class: "card-head" },
        statusBadge(s.status, s.waiting_for),
        h("h3", { title: s.project || "" }, base(s.project) || "–")),
      h("dl", { class: "figures" },
        h("div", {}, h("dt", {}, "Person"), h("dd", { class: "text person" }, s.email)),
        h("div", {}, h("dt", {}, "Machine"), h("dd", { class: "text machine" }, s.hostname)),
        h("div", {}, h("dt", {}, "Model"), h("dd", { class: "text" }, s.model || "–")),
        h("div", {}, h("dt", {}, "Cost"), h("dd", { class: "num cost" }, usd(s.total_cost_usd))),
        h("div", {}, h("dt", {}, "Tokens"), h("dd", { class: "num" }, compact(
          s.tokens.input + s.tokens.output + s.tokens.cache_read + s.tokens.cache_creation))),
        h("div", {}, h("dt", {}, "Last change"), h("dd", { class: "text" }, ago(iso(s.updated_at_ms)))),
        waiting ? h("div", {}, h("dt", {}, "Waiting for"), h("dd", { class: "text" }, s.waiting_for)) : null,
        s.title ? h("div", {}, h("dt", {}, "Title"), h("dd", { class: "text" }, s.title)) : null),
    );
  }

  function chart(el, groups, label) {
    el.replaceChildren(
      groups.length
        ? shareList(
            groups.map((g) => ({ name: g.name, total_cost_usd: g.cost_usd, requests: g.responses })),
            { people: "person", projects: "project", models: "model" }[label] || label,
            null,
            null,
          )
        : h("div", { class: "empty" }, "Nothing this month."),
    );
  }

  function render(o) {
    $("viewer").textContent = `${o.viewer.email} · ${o.viewer.role} · ${o.viewer.team}`;
    const banner = $("banner");
    const n = o.live.length;
    banner.dataset.state = n ? "live" : "none";
    banner.textContent = n
      ? `LIVE: ${n} session${n === 1 ? "" : "s"} running across the team`
      : "No Claude Code session is running right now.";
    const live = $("live");
    live.hidden = n === 0;
    live.replaceChildren(...o.live.map(card));

    for (const key of ["today", "week", "month"]) {
      const p = o[key];
      const el = document.querySelector(`.total[data-period="${key}"]`);
      el.querySelector(".value").textContent = usd(p.cost_usd);
      el.querySelector(".detail").textContent =
        `${compact(p.tokens.input + p.tokens.output + p.tokens.cache_read + p.tokens.cache_creation)} tokens · ${p.responses} responses`;
    }
    chart($("chart-people"), o.month.by_person, "people");
    chart($("chart-projects"), o.month.by_project, "projects");
    chart($("chart-models"), o.month.by_model, "models");

    $("budgets").replaceChildren(
      o.budgets.length
        ? h("dl", { class: "figures" }, o.budgets.map((b) =>
            h("div", { dataset: { budget: `${b.scope}:${b.name}` } },
              h("dt", {}, `${b.scope} ${b.name}`),
              h("dd", { class: "num" }, `${usd(b.spent_usd)} of ${usd(b.monthly_usd)}` +
                (b.percent == null ? "" : ` (${Math.round(b.percent)}%)`)))))
        : h("div", { class: "empty" }, "No budget set (cclive team budget set)."),
    );

    $("machines").querySelector("tbody").replaceChildren(
      ...(o.machines.length
        ? o.machines.map((m) =>
            h("tr", { dataset: { machine: m.machine_id } },
              h("td", { title: m.machine_id }, m.hostname),
              h("td", {}, m.email),
              h("td", {}, m.agent_version),
              h("td", {}, ago(iso(m.last_contact_ms))),
              h("td", { class: "num" }, m.acked_seq),
              h("td", { class: "num" }, m.backlog == null ? "–" : m.backlog)))
        : [h("tr", { class: "empty-row" }, h("td", { colspan: 6 }, "No machine has pushed yet."))]),
    );
  }

  let pending = null;
  async function refresh() {
    const o = await getJSON("/api/team/v1/overview");
    render(o);
    document.body.dataset.loaded = "true";
  }
  function soon() {
    if (pending) return;
    pending = setTimeout(async () => {
      pending = null;
      try {
        await refresh();
      } catch (_) {
        setConn("down", "server unreachable");
      }
    }, 100);
  }

  let fallback = null;
  function connect() {
    const es = new EventSource("/api/team/v1/stream");
    es.addEventListener("changed", () => {
      setConn("live", "live");
      if (fallback) clearInterval(fallback);
      fallback = null;
      soon();
    });
    es.onerror = () => {
      setConn("down", "reconnecting…");
      if (!fallback) fallback = setInterval(soon, cc.refreshMs());
    };
  }

  // "Last contact … ago" ages while nothing changes.
  setInterval(soon, 30000);
  connect();
  soon();
})();
