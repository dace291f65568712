// cclive: helpers shared by the dashboard and the session page. Plain browser JS, no build
// step, no dependencies. Every piece of data goes into the page as text (never as HTML).
"use strict";

const cc = (() => {
  const SVG = "http://www.w3.org/2000/svg";

  /** An element: h("div", {class: "x", dataset: {a: 1}}, "text", child, ...). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }

  /** An SVG element. */
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG, tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }

  function setAttrs(el, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "dataset") Object.assign(el.dataset, v);
      else if (k === "text") el.textContent = v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }

  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  const intFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  const oneFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

  function usd(x) {
    if (x === null || x === undefined || !isFinite(x)) return "–";
    const abs = Math.abs(x);
    const digits = abs === 0 ? 2 : abs < 1 ? 4 : 2;
    const text = abs >= 1000 ? intFmt.format(x) : x.toFixed(digits);
    return "$" + text;
  }

  /** The "unpriced: MODEL" mark of a session some of whose usage has no price (its cost is
   * unknown or partial, never $0), or null. */
  function unpriced(s) {
    const models = s.unpriced_models || [];
    if (!models.length) return null;
    return h("span", {
      class: "unpriced",
      dataset: { field: "unpriced" },
      title: "No price for these models: the cost shown leaves them out. Run `cclive prices sync` or add them to your price file; `cclive doctor` explains.",
    }, "unpriced: " + models.join(", "));
  }

  function int(n) {
    return n === null || n === undefined ? "–" : intFmt.format(n);
  }

  /** 1234567 → "1.2M"; small numbers as they are. */
  function compact(n) {
    if (n === null || n === undefined) return "–";
    const abs = Math.abs(n);
    if (abs >= 1e9) return oneFmt.format(n / 1e9) + "B";
    if (abs >= 1e6) return oneFmt.format(n / 1e6) + "M";
    if (abs >= 1e4) return oneFmt.format(n / 1e3) + "k";
    return intFmt.format(n);
  }

  function duration(ms) {
    if (ms === null || ms === undefined || !isFinite(ms)) return "–";
    const total = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const sec = total % 60;
    const pad = (v) => String(v).padStart(2, "0");
    if (h > 0) return `${h}h ${pad(m)}m ${pad(sec)}s`;
    if (m > 0) return `${m}m ${pad(sec)}s`;
    if (ms < 1000 && ms > 0) return `${Math.round(ms)} ms`;
    return `${sec}s`;
  }

  function percent(ratio) {
    if (ratio === null || ratio === undefined || !isFinite(ratio)) return "–";
    return Math.round(ratio * 100) + "%";
  }

  function time(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    const today = new Date();
    const sameDay = d.toDateString() === today.toDateString();
    return sameDay
      ? d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" })
      : d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  }

  function ago(iso) {
    if (!iso) return "";
    const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
    if (s < 60) return "just now";
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    return `${Math.floor(s / 86400)} d ago`;
  }

  /** The last path segment: "/home/me/app" → "app". */
  function base(path) {
    if (!path) return "–";
    const parts = String(path).split("/").filter(Boolean);
    return parts.length ? parts[parts.length - 1] : path;
  }

  /**
   * Where a session ran, for headings: its project's last path segment. A session seen only
   * through Claude Code's telemetry from another machine has no path here: its host, or user.
   */
  function place(s) {
    if (s.project_path || s.cwd) return base(s.project_path || s.cwd);
    return s.host || s.user || "–";
  }

  /** A chip naming who ran a session elsewhere ("user @ host"), or null for this machine's. */
  function origin(s) {
    const label = [s.user, s.host].filter(Boolean).join(" @ ");
    if (!label || (!s.host && s.source !== "otel")) return null;
    return h("span", { class: "origin", title: "reported by Claude Code's telemetry" }, label);
  }

  /** A number with its unit in a lighter span. */
  function withUnit(value, unit) {
    return [value, h("span", { class: "unit" }, unit)];
  }

  function totalTokens(t) {
    return t ? t.input + t.output + t.cache_read + t.cache_creation : 0;
  }

  function statusBadge(status, waitingFor) {
    switch (status) {
      case "ACTIVE":
        return h("span", { class: "badge live" }, "Active");
      case "IDLE":
        return h("span", { class: "badge idle" }, waitingFor ? `waiting for you (${waitingFor})` : "waiting for you");
      case "COMPLETED":
        return h("span", { class: "badge ok" }, "Completed");
      case "FAILED":
        return h("span", { class: "badge bad" }, "Failed");
      case "INTERRUPTED":
        return h("span", { class: "badge bad" }, "Interrupted");
      default:
        return h("span", { class: "badge" }, status || "–");
    }
  }

  async function getJSON(url) {
    const r = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    if (!r.ok) throw new Error(`${url}: ${r.status}`);
    return r.json();
  }

  function tz() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (_) {
      return "";
    }
  }

  function refreshMs() {
    const meta = document.querySelector('meta[name="cclive-refresh-ms"]');
    const v = meta ? parseInt(meta.content, 10) : NaN;
    return isFinite(v) && v > 0 ? v : 2000;
  }

  function setConn(state, text) {
    const el = document.getElementById("conn");
    if (!el) return;
    el.dataset.state = state;
    el.textContent = text;
  }

  /**
   * The live stream: server-sent events, with the fallback the seed had (refresh every
   * DASHBOARD_REFRESH_INTERVAL) while the stream is down. The browser reconnects by itself;
   * when it gives up, so do we not: we retry at the refresh interval. Every (re)connection
   * starts with the full current state, so a page never shows a stale one after a restart.
   */
  function live({ url, onState, onUpdate, poll }) {
    const every = refreshMs();
    let es = null;
    let fallback = null;

    function startFallback() {
      if (fallback) return;
      fallback = setInterval(async () => {
        try {
          await poll();
          if (!es || es.readyState === EventSource.CLOSED) connect();
        } catch (_) {
          /* still down */
        }
      }, every);
    }

    function stopFallback() {
      if (fallback) clearInterval(fallback);
      fallback = null;
    }

    function onFull(e) {
      stopFallback();
      setConn("live", "live");
      onState(JSON.parse(e.data));
    }

    function connect() {
      if (es) es.close();
      es = new EventSource(url);
      es.addEventListener("snapshot", onFull);
      es.addEventListener("resync", onFull);
      es.addEventListener("update", (e) => onUpdate(JSON.parse(e.data)));
      es.onerror = () => {
        setConn("down", "reconnecting…");
        startFallback();
        if (es.readyState === EventSource.CLOSED) {
          es = null;
        }
      };
    }

    connect();
  }

  // Charts: small SVGs drawn here, styled by app.css (so they follow the theme).

  /** Vertical bars, one per day: [{date, total_cost_usd, sessions}]. */
  function dayChart(days) {
    const W = 1100, H = 190, top = 20, bottom = 22, left = 4, right = 4;
    const max = Math.max(...days.map((d) => d.total_cost_usd), 0);
    if (!days.length) return h("div", { class: "empty" }, "No data.");
    const n = days.length;
    const slot = (W - left - right) / n;
    const bw = Math.max(2, slot * 0.72);
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Cost per day" });
    svg.append(s("line", { class: "axis", x1: 0, x2: W, y1: H - bottom + 0.5, y2: H - bottom + 0.5 }));
    const todayIso = days[n - 1].date;
    days.forEach((d, i) => {
      const hgt = max > 0 ? ((H - top - bottom) * d.total_cost_usd) / max : 0;
      const x = left + i * slot + (slot - bw) / 2;
      const y = H - bottom - hgt;
      const bar = s("rect", {
        class: d.date === todayIso ? "bar today" : "bar",
        x: x.toFixed(1), y: y.toFixed(1), width: bw.toFixed(1), height: Math.max(hgt, d.total_cost_usd > 0 ? 1 : 0).toFixed(1), rx: 2,
      });
      bar.append(s("title", {}, `${d.date}: ${usd(d.total_cost_usd)} · ${int(d.requests)} API request${d.requests === 1 ? "" : "s"}`));
      svg.append(bar);
      if (i % 7 === (n - 1) % 7) {
        const label = new Date(d.date + "T12:00:00").toLocaleDateString(undefined, { month: "short", day: "numeric" });
        svg.append(s("text", { x: (x + bw / 2).toFixed(1), y: H - 6, "text-anchor": "middle" }, label));
      }
    });
    svg.append(s("text", { class: "value", x: W - right, y: 11, "text-anchor": "end" }, max > 0 ? `max ${usd(max)}/day` : "no cost yet"));
    return svg;
  }

  /** Horizontal bars: [{name, total_cost_usd, sessions}], the top ones and "other". */
  function shareChart(shares, label, keep = 6) {
    if (!shares.length) return h("div", { class: "empty" }, "Nothing in the last 30 days.");
    let rows = shares.slice(0, keep);
    if (shares.length > keep) {
      const rest = shares.slice(keep);
      rows.push({
        name: `${rest.length} other${rest.length === 1 ? "" : "s"}`,
        total_cost_usd: rest.reduce((a, r) => a + r.total_cost_usd, 0),
        requests: rest.reduce((a, r) => a + r.requests, 0),
        sessions: rest.some((r) => r.sessions != null) ? rest.reduce((a, r) => a + (r.sessions || 0), 0) : null,
        other: true,
      });
    }
    const W = 360, row = 26, H = rows.length * row;
    const labelW = 130, valueW = 70;
    const max = Math.max(...rows.map((r) => r.total_cost_usd), 0);
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label });
    rows.forEach((r, i) => {
      const y = i * row;
      const name = r.other ? r.name : label === "projects" ? base(r.name) : r.name || "unknown";
      const text = name.length > 20 ? name.slice(0, 19) + "…" : name;
      const t = s("text", { x: 0, y: y + 16 }, text);
      t.append(s("title", {}, r.name || "unknown"));
      svg.append(t);
      const bw = max > 0 ? ((W - labelW - valueW) * r.total_cost_usd) / max : 0;
      svg.append(s("rect", { class: "track", x: labelW, y: y + 5, width: W - labelW - valueW, height: 14, rx: 3 }));
      const bar = s("rect", { class: "bar", x: labelW, y: y + 5, width: Math.max(bw, 0).toFixed(1), height: 14, rx: 3 });
      const count = r.sessions != null
        ? `${int(r.sessions)} session${r.sessions === 1 ? "" : "s"}`
        : `${int(r.requests)} API request${r.requests === 1 ? "" : "s"}`;
      bar.append(s("title", {}, `${r.name || "unknown"}: ${usd(r.total_cost_usd)} · ${count}`));
      svg.append(bar);
      svg.append(s("text", { class: "value", x: W, y: y + 16, "text-anchor": "end" }, usd(r.total_cost_usd)));
    });
    return svg;
  }

  return {
    h, s, usd, unpriced, int, compact, duration, percent, time, ago, base, place, origin, withUnit, totalTokens,
    statusBadge, getJSON, tz, refreshMs, setConn, live, dayChart, shareChart,
  };
})();
