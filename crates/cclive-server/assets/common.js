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

  /** "1 turn", "2 turns" (or the given plural). */
  function plural(n, one, many) {
    return `${int(n)} ${n === 1 ? one : many || one + "s"}`;
  }

  // Charts: drawn here, styled by app.css (so they follow the theme). The bar chart is an SVG
  // drawn at the box's own pixel width, so its text stays legible on a phone.

  function iso(d) {
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  }

  /**
   * Days grouped for the chart: per day up to three months, per week (from Monday) up to two
   * years, else per month. [{from, to, total_cost_usd, requests}] and the unit.
   */
  function bucketDays(days) {
    const unit = days.length <= 92 ? "day" : days.length <= 731 ? "week" : "month";
    const out = [];
    for (const d of days) {
      const date = new Date(d.date + "T12:00:00");
      let key = d.date;
      if (unit === "week") {
        const monday = new Date(date);
        monday.setDate(date.getDate() - ((date.getDay() + 6) % 7));
        key = iso(monday);
      } else if (unit === "month") {
        key = d.date.slice(0, 7);
      }
      const last = out[out.length - 1];
      if (last && last.key === key) {
        last.to = d.date;
        last.total_cost_usd += d.total_cost_usd;
        last.requests += d.requests;
      } else {
        out.push({ key, from: d.date, to: d.date, total_cost_usd: d.total_cost_usd, requests: d.requests });
      }
    }
    return Object.assign(out, { unit });
  }

  /** Round steps for an axis up to `max`: [0, step, 2·step, …]. */
  function ticks(max, count = 4) {
    if (!(max > 0)) return [0];
    const raw = max / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || 10 * mag;
    const out = [];
    for (let v = 0; v <= max + step * 0.999; v += step) out.push(+v.toFixed(10));
    return out;
  }

  function axisUsd(v) {
    if (v === 0) return "$0";
    if (v >= 1000) return "$" + compact(v);
    return "$" + (v < 1 ? v.toFixed(2) : v % 1 ? v.toFixed(1) : v.toFixed(0));
  }

  function bucketName(b, unit, long) {
    const d = new Date(b.from + "T12:00:00");
    if (unit === "month") return d.toLocaleDateString(undefined, { month: "short", year: long ? "numeric" : "2-digit" });
    const name = d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
    return unit === "week" && long ? `week of ${name}` : name;
  }

  /**
   * Vertical bars with a y-axis of costs; a click on a bar calls `onPick(bucket)`; the bucket
   * that starts on `selected` (a date) is highlighted.
   */
  function dayChart(buckets, width, onPick, selected) {
    if (!buckets.length) return h("div", { class: "empty" }, "No data.");
    const W = Math.max(280, Math.round(width)), H = 210, top = 12, bottom = 24, right = 6;
    const max = Math.max(...buckets.map((d) => d.total_cost_usd), 0);
    const axis = ticks(max);
    const top_ = axis[axis.length - 1] || 1;
    const left = 10 + 7 * Math.max(...axis.map((v) => axisUsd(v).length));
    const n = buckets.length;
    const slot = (W - left - right) / n;
    const bw = Math.max(2, Math.min(slot * 0.72, 48));
    const y = (v) => H - bottom - ((H - top - bottom) * v) / top_;
    const svg = s("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `Cost per ${buckets.unit}` });
    for (const v of axis) {
      const yy = y(v).toFixed(1);
      svg.append(s("line", { class: v === 0 ? "axis" : "grid", x1: left, x2: W - right, y1: yy, y2: yy }));
      svg.append(s("text", { class: "tick", x: left - 6, y: +yy + 4, "text-anchor": "end" }, axisUsd(v)));
    }
    const today = iso(new Date());
    // Labels at least 64 px apart.
    const every = Math.max(1, Math.ceil(64 / slot));
    buckets.forEach((d, i) => {
      const x = left + i * slot + (slot - bw) / 2;
      const hgt = H - bottom - y(d.total_cost_usd);
      const g = s("g", { class: d.from === selected ? "bar-hit selected" : "bar-hit", tabindex: 0, role: "button", dataset: { from: d.from, to: d.to } });
      // The whole column is clickable, not only the (maybe tiny) bar.
      g.append(s("rect", { class: "hit", x: (left + i * slot).toFixed(1), y: top, width: slot.toFixed(1), height: H - top - bottom }));
      g.append(
        s("rect", {
          class: d.from <= today && today <= d.to ? "bar today" : "bar",
          x: x.toFixed(1), y: (H - bottom - hgt).toFixed(1), width: bw.toFixed(1), height: Math.max(hgt, d.total_cost_usd > 0 ? 1 : 0).toFixed(1), rx: 2,
        }),
      );
      const range = d.from === d.to ? d.from : `${d.from} – ${d.to}`;
      g.append(s("title", {}, `${range}: ${usd(d.total_cost_usd)} · ${plural(d.requests, "API request")}`));
      if (onPick) {
        g.addEventListener("click", () => onPick(d));
        g.addEventListener("keydown", (e) => {
          if (e.key === "Enter" || e.key === " ") onPick(d);
        });
      }
      svg.append(g);
      if ((n - 1 - i) % every === 0) {
        svg.append(s("text", { x: (x + bw / 2).toFixed(1), y: H - 7, "text-anchor": "middle" }, bucketName(d, buckets.unit, false)));
      }
    });
    return svg;
  }

  /**
   * Horizontal bars as a list: full names (wrapping), the bar, the cost; the top ones and
   * "others". A click on a row calls `onPick(row)`; the `selected` name is highlighted.
   */
  function shareList(shares, kind, selected, onPick, keep = 8) {
    if (!shares.length) return h("div", { class: "empty" }, "Nothing in this range.");
    const rows = shares.slice(0, keep);
    const rest = shares.slice(keep);
    const max = Math.max(...rows.map((r) => r.total_cost_usd), 0);
    const items = rows.map((r) => {
      const full = r.name || "unknown";
      const name = kind === "project" && r.name ? base(r.name) : full;
      const count = r.sessions != null ? plural(r.sessions, "session") : plural(r.requests, "API request");
      const fill = h("span", { class: "fill" });
      fill.style.width = `${max > 0 ? (100 * r.total_cost_usd) / max : 0}%`;
      const clickable = onPick && r.name;
      return h(
        "li",
        {},
        h(
          clickable ? "button" : "div",
          {
            type: clickable ? "button" : null,
            class: "share" + (selected && selected === r.name ? " selected" : ""),
            title: `${full}: ${usd(r.total_cost_usd)} · ${count}${clickable ? " — click for its sessions" : ""}`,
            dataset: { [kind]: r.name || "" },
          },
          h("span", { class: "name" }, name, kind === "project" && r.name && name !== full ? h("span", { class: "path" }, full) : null),
          h("span", { class: "value num" }, usd(r.total_cost_usd)),
          h("span", { class: "track" }, fill),
        ),
      );
    });
    const list = h("ol", { class: "shares" }, items);
    if (onPick) list.addEventListener("click", (e) => {
      const b = e.target.closest("button.share");
      if (!b) return;
      const row = rows.find((r) => (r.name || "") === b.dataset[kind]);
      if (row) onPick(row);
    });
    const more = rest.length
      ? h("p", { class: "muted small" }, `${plural(rest.length, "other")}: ${usd(rest.reduce((a, r) => a + r.total_cost_usd, 0))}`)
      : null;
    return h("div", {}, list, more);
  }

  return {
    h, s, usd, unpriced, int, compact, duration, percent, time, ago, base, place, origin, withUnit,
    totalTokens, statusBadge, getJSON, tz, refreshMs, setConn, live, plural, bucketDays, dayChart,
    shareList,
  };
})();
