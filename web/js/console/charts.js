// Small inline SVG charts: stacked bars over time, a histogram, horizontal bars. No library.

import { SVG_NS, h } from "../shared/dom.js";

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
  for (const child of children.flat()) if (child) el.append(child);
  return el;
}

function title(text) {
  const t = document.createElementNS(SVG_NS, "title");
  t.textContent = text;
  return t;
}

function niceMax(value) {
  if (value <= 4) return Math.max(1, Math.ceil(value));
  if (value <= 8) return 8;
  const step = Math.pow(10, Math.floor(Math.log10(value)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= value) return m * step;
  return 10 * step;
}

function yAxis(g, { left, top, width, height, max }) {
  const ticks = max <= 4 ? max : 4; // counts: whole numbers only
  for (let i = 0; i <= ticks; i++) {
    const value = (max / ticks) * i;
    const y = top + height - (height * i) / ticks;
    g.append(svg("line", { x1: left, x2: left + width, y1: y, y2: y, stroke: "#eaecf0", "stroke-width": 1 }));
    const label = svg("text", { x: left - 8, y: y + 4, "text-anchor": "end", fill: "#667085", "font-size": 11 });
    label.textContent = Number.isInteger(value) ? value : value.toFixed(1);
    g.append(label);
  }
}

/**
 * Stacked bars: buckets [{label, values: {series: n}}], series [{key, label, color}].
 */
export function stackedBars({ buckets, series, height = 220, emptyText = "No data yet" }) {
  const width = 720;
  const pad = { left: 40, right: 12, top: 12, bottom: 28 };
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const totals = buckets.map((b) => series.reduce((sum, s) => sum + (b.values[s.key] || 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
  const g = svg("g", { class: "axis" });
  root.append(g);
  yAxis(g, { left: pad.left, top: pad.top, width: innerW, height: innerH, max });
  if (!buckets.length || totals.every((t) => t === 0)) {
    const t = svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle", fill: "#98a2b3", "font-size": 13 });
    t.textContent = emptyText;
    root.append(t);
    return h("div.chart", root);
  }
  const slot = innerW / buckets.length;
  const barW = Math.max(4, Math.min(36, slot * 0.68));
  const labelEvery = Math.ceil(buckets.length / 8);
  buckets.forEach((bucket, i) => {
    const x = pad.left + slot * i + (slot - barW) / 2;
    let y = pad.top + innerH;
    for (const s of series) {
      const n = bucket.values[s.key] || 0;
      if (!n) continue;
      const barH = (innerH * n) / max;
      y -= barH;
      root.append(svg("rect", { x, y, width: barW, height: Math.max(1, barH), rx: 2, fill: s.color, "data-kind": s.key }, title(`${bucket.label} · ${s.label}: ${n}`)));
    }
    if (i % labelEvery === 0) {
      const t = svg("text", { x: x + barW / 2, y: height - 8, "text-anchor": "middle", fill: "#667085", "font-size": 11 });
      t.textContent = bucket.label;
      root.append(t);
    }
  });
  const used = series.filter((s) => buckets.some((b) => b.values[s.key]));
  return h(
    "div.chart",
    root,
    h("div.legend", used.map((s) => h("span", h("span.sw", { style: `background:${s.color}` }), s.label))),
  );
}

/** Histogram of values in [0, 100] in `bins` equal bins, coloured from green to red. */
export function histogram({ values, bins = 10, height = 240, emptyText = "No attempts yet" }) {
  const width = 520;
  const pad = { left: 40, right: 12, top: 12, bottom: 28 };
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const counts = new Array(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.floor((Math.max(0, v) / 100) * bins))] += 1;
  const max = niceMax(Math.max(0, ...counts));
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
  const g = svg("g", { class: "axis" });
  root.append(g);
  yAxis(g, { left: pad.left, top: pad.top, width: innerW, height: innerH, max });
  const slot = innerW / bins;
  const colors = ["#12b76a", "#32d583", "#a6ef67", "#fde272", "#fdb022", "#f79009", "#f97066", "#f04438", "#d92d20", "#b42318"];
  counts.forEach((n, i) => {
    const from = (100 / bins) * i;
    const to = from + 100 / bins;
    const barH = (innerH * n) / max;
    const x = pad.left + slot * i + 3;
    if (n) root.append(svg("rect", { x, y: pad.top + innerH - barH, width: slot - 6, height: barH, rx: 3, fill: colors[Math.floor((i / bins) * colors.length)] }, title(`Risk ${from}-${to}: ${n} attempt${n === 1 ? "" : "s"}`)));
    if (i % 2 === 0) {
      const t = svg("text", { x: pad.left + slot * i, y: height - 8, "text-anchor": "middle", fill: "#667085", "font-size": 11 });
      t.textContent = from;
      root.append(t);
    }
  });
  const end = svg("text", { x: pad.left + innerW, y: height - 8, "text-anchor": "end", fill: "#667085", "font-size": 11 });
  end.textContent = "100";
  root.append(end);
  if (!values.length) {
    const t = svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle", fill: "#98a2b3", "font-size": 13 });
    t.textContent = emptyText;
    root.append(t);
  }
  return h("div.chart", root);
}

/** Horizontal bars: items [{label, value, color}], sorted as given. */
export function hbars({ items, emptyText = "No alerts yet" }) {
  if (!items.length) return h("div.empty", emptyText);
  const max = Math.max(...items.map((i) => i.value), 1);
  return h(
    "div.stack.tight",
    items.map((item) =>
      h(
        "div",
        h("div.row.small", h("span", item.label), h("span.spacer"), h("strong", item.value)),
        h("div.progress", h("span", { style: `width:${(item.value / max) * 100}%;background:${item.color}` })),
      ),
    ),
  );
}

/** Time buckets covering [start, end]: a round size so that there are at most `most`. */
export function timeBuckets(start, end, most = 24) {
  const sizes = [1, 2, 5, 10, 15, 30, 60, 120, 240, 480, 1440].map((m) => m * 60000);
  const span = Math.max(60000, end - start);
  const size = sizes.find((s) => span / s <= most) || sizes[sizes.length - 1];
  const first = Math.floor(start / size) * size;
  const buckets = [];
  for (let t = first; t <= end; t += size) {
    const d = new Date(t);
    const label = size >= 1440 * 60000 ? d.toLocaleDateString([], { month: "short", day: "numeric" }) : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    buckets.push({ start: t, end: t + size, label, values: {} });
  }
  return buckets;
}
