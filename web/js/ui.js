// Small UI toolkit shared by both pages: a DOM builder, icons, toasts, modals, labels.

/** h("div.card#id", {attrs, on: {click}}, ...children): build an element. */
export function h(spec, attrs, ...children) {
  const [, tag = "div", rest = ""] = /^([a-z0-9-]*)(.*)$/i.exec(spec);
  const el = tag === "svg" ? document.createElementNS(SVG_NS, "svg") : document.createElement(tag);
  for (const part of rest.match(/[.#][^.#]+/g) || []) {
    if (part[0] === ".") el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  if (attrs !== undefined && attrs !== null && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  let initial;
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "value") initial = value; // a property, set once the options exist
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "class") el.className += " " + value;
    else if (key === "html") el.innerHTML = value; // only ever given our own static markup
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  if (initial !== undefined) el.value = initial;
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const SVG_NS = "http://www.w3.org/2000/svg";

const ICONS = {
  logo: '<path d="M12 3l7 3v5c0 4.5-3 8.3-7 9.5-4-1.2-7-5-7-9.5V6l7-3z"/><circle cx="12" cy="11" r="2.5"/>',
  camera: '<path d="M15 10l4.6-2.3A1 1 0 0121 8.6v6.8a1 1 0 01-1.4.9L15 14"/><rect x="3" y="6" width="12" height="12" rx="2"/>',
  mic: '<rect x="9" y="3" width="6" height="11" rx="3"/><path d="M5 11a7 7 0 0014 0M12 18v3"/>',
  user: '<circle cx="12" cy="8" r="4"/><path d="M4 21a8 8 0 0116 0"/>',
  users: '<circle cx="9" cy="8" r="3.5"/><path d="M2.5 20a6.5 6.5 0 0113 0M16 4.5a3.5 3.5 0 010 7M18 14a6 6 0 014 6"/>',
  check: '<path d="M5 12.5l4.5 4.5L19 7.5"/>',
  x: '<path d="M6 6l12 12M18 6L6 18"/>',
  alert: '<path d="M12 3l10 18H2L12 3z"/><path d="M12 10v5M12 18h.01"/>',
  info: '<circle cx="12" cy="12" r="9"/><path d="M12 11v5M12 8h.01"/>',
  book: '<path d="M4 5a2 2 0 012-2h13v16H6a2 2 0 00-2 2V5z"/><path d="M4 19a2 2 0 012-2h13"/>',
  clock: '<circle cx="12" cy="12" r="9"/><path d="M12 7v5l3 2"/>',
  grid: '<rect x="3" y="3" width="7" height="7" rx="1.5"/><rect x="14" y="3" width="7" height="7" rx="1.5"/><rect x="3" y="14" width="7" height="7" rx="1.5"/><rect x="14" y="14" width="7" height="7" rx="1.5"/>',
  list: '<path d="M8 6h13M8 12h13M8 18h13M3.5 6h.01M3.5 12h.01M3.5 18h.01"/>',
  chart: '<path d="M3 3v18h18"/><path d="M7 15l4-4 3 3 5-6"/>',
  settings: '<circle cx="12" cy="12" r="3"/><path d="M19.4 15a1.7 1.7 0 00.3 1.8l.1.1a2 2 0 11-2.8 2.8l-.1-.1a1.7 1.7 0 00-1.8-.3 1.7 1.7 0 00-1 1.5V21a2 2 0 11-4 0v-.1a1.7 1.7 0 00-1.1-1.5 1.7 1.7 0 00-1.8.3l-.1.1a2 2 0 11-2.8-2.8l.1-.1a1.7 1.7 0 00.3-1.8 1.7 1.7 0 00-1.5-1H3a2 2 0 110-4h.1a1.7 1.7 0 001.5-1.1 1.7 1.7 0 00-.3-1.8l-.1-.1a2 2 0 112.8-2.8l.1.1a1.7 1.7 0 001.8.3H9a1.7 1.7 0 001-1.5V3a2 2 0 114 0v.1a1.7 1.7 0 001 1.5 1.7 1.7 0 001.8-.3l.1-.1a2 2 0 112.8 2.8l-.1.1a1.7 1.7 0 00-.3 1.8V9a1.7 1.7 0 001.5 1H21a2 2 0 110 4h-.1a1.7 1.7 0 00-1.5 1z"/>',
  plus: '<path d="M12 5v14M5 12h14"/>',
  send: '<path d="M22 2L11 13M22 2l-7 20-4-9-9-4 20-7z"/>',
  stop: '<circle cx="12" cy="12" r="9"/><rect x="9" y="9" width="6" height="6" rx="1"/>',
  logout: '<path d="M9 21H5a2 2 0 01-2-2V5a2 2 0 012-2h4M16 17l5-5-5-5M21 12H9"/>',
  refresh: '<path d="M21 12a9 9 0 11-2.6-6.4L21 8M21 3v5h-5"/>',
  eye: '<path d="M2 12s3.6-7 10-7 10 7 10 7-3.6 7-10 7S2 12 2 12z"/><circle cx="12" cy="12" r="3"/>',
  wifi: '<path d="M5 12.5a10 10 0 0114 0M8.5 16a5 5 0 017 0M12 19.5h.01M2 9a15 15 0 0120 0"/>',
  fullscreen: '<path d="M8 3H5a2 2 0 00-2 2v3M21 8V5a2 2 0 00-2-2h-3M3 16v3a2 2 0 002 2h3M16 21h3a2 2 0 002-2v-3"/>',
  trophy: '<path d="M8 21h8M12 17v4M7 4h10v5a5 5 0 01-10 0V4zM7 6H4a3 3 0 003 4M17 6h3a3 3 0 01-3 4"/>',
};

/** An inline SVG icon (stroke style) by name. */
export function icon(name, cls = "") {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "1.8");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  svg.setAttribute("aria-hidden", "true");
  if (cls) svg.setAttribute("class", cls);
  svg.innerHTML = ICONS[name] || "";
  return svg;
}

export function brand(product) {
  return h("div.brand", h("span.logo", icon("logo")), "Proctor", h("span.product", product));
}

// ---- toasts -------------------------------------------------------------------------

let toastStack = null;

/** An unobtrusive notice in the corner; returns a function that dismisses it. */
export function toast(body, { title = "", kind = "info", timeout = 6000 } = {}) {
  if (!toastStack) {
    toastStack = h("div.toasts", { role: "status", "aria-live": "polite" });
    document.body.append(toastStack);
  }
  const glyph = { warn: "alert", bad: "alert", ok: "check", info: "info" }[kind] || "info";
  const colors = { warn: "var(--warn)", bad: "var(--bad)", ok: "var(--ok)", info: "var(--brand)" };
  const close = () => el.remove();
  const el = h(
    `div.toast.${kind}`,
    h("span", { style: `color:${colors[kind]}` }, icon(glyph)),
    h("div", title && h("div.t-title", title), h("div.t-body", body)),
    h("button.t-close", { "aria-label": "Dismiss", on: { click: close } }, "×"),
  );
  el.querySelector("svg").setAttribute("width", "18");
  el.querySelector("svg").setAttribute("height", "18");
  toastStack.append(el);
  while (toastStack.children.length > 3) toastStack.firstChild.remove();
  if (timeout) setTimeout(close, timeout);
  return close;
}

// ---- modals -------------------------------------------------------------------------

/** Open a modal; returns {el, body, close}. `onClose` runs once when it closes. */
export function modal({ title, subtitle = "", wide = false, body = [], foot = null, onClose } = {}) {
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    backdrop.remove();
    document.removeEventListener("keydown", onKey);
    if (onClose) onClose();
  };
  const onKey = (event) => {
    if (event.key === "Escape") close();
  };
  const bodyEl = h("div.modal-body", body);
  const head = h(
    "div.modal-head",
    h("div", h("h2", title), subtitle && h("div.muted.small", subtitle)),
    h("span.spacer"),
    h("button.icon-btn", { "aria-label": "Close", on: { click: close } }, icon("x")),
  );
  const box = h(`div.modal${wide ? ".wide" : ""}`, { role: "dialog", "aria-modal": "true" }, head, bodyEl, foot && h("div.modal-foot", foot));
  const backdrop = h("div.modal-backdrop", box);
  backdrop.addEventListener("mousedown", (event) => {
    if (event.target === backdrop) close();
  });
  document.addEventListener("keydown", onKey);
  document.body.append(backdrop);
  return { el: box, head, body: bodyEl, close };
}

/** Ask a yes/no question; resolves true when confirmed. */
export function confirmDialog({ title, text, confirm = "Confirm", danger = false }) {
  return new Promise((resolve) => {
    let answer = false;
    const ok = h(`button.btn.${danger ? "danger" : "primary"}#confirm-ok`, confirm);
    const cancel = h("button.btn", "Cancel");
    const m = modal({ title, body: [h("p.muted", text)], foot: [cancel, ok], onClose: () => resolve(answer) });
    ok.addEventListener("click", () => {
      answer = true;
      m.close();
    });
    cancel.addEventListener("click", () => m.close());
    ok.focus();
  });
}

// ---- labels and formatting ------------------------------------------------------------

export const KINDS = {
  no_face: { label: "No face", color: "#f79009" },
  multiple_faces: { label: "Multiple faces", color: "#f04438" },
  face_mismatch: { label: "Different person", color: "#b42318" },
  looking_away: { label: "Looking away", color: "#7a5af8" },
  talking: { label: "Talking", color: "#0ba5ec" },
  speech: { label: "Voice detected", color: "#06aed4" },
  camera_blocked: { label: "Camera blocked", color: "#475467" },
  stream_lost: { label: "Stream lost", color: "#98a2b3" },
  focus_lost: { label: "Left the exam tab", color: "#ee46bc" },
  fullscreen_exit: { label: "Left fullscreen", color: "#9e77ed" },
  copy_paste: { label: "Copy / paste", color: "#15b79e" },
};

export function kindLabel(kind) {
  return (KINDS[kind] && KINDS[kind].label) || kind.replace(/_/g, " ");
}

export function kindColor(kind) {
  return (KINDS[kind] && KINDS[kind].color) || "#667085";
}

export function severityBadge(severity) {
  const cls = { high: "bad", medium: "warn", low: "" }[severity] ?? "";
  return h(`span.badge${cls ? "." + cls : ""}`, severity);
}

export function riskClass(score) {
  return score >= 50 ? "high" : score >= 20 ? "mid" : "low";
}

export function riskBadge(score) {
  return h(`span.risk.${riskClass(score)}`, { title: "Risk score (0-100)" }, Math.round(score));
}

export function initials(name) {
  return (name || "?")
    .split(/[\s._@-]+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((part) => part[0].toUpperCase())
    .join("");
}

export function fmtTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function fmtDateTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleDateString([], { month: "short", day: "numeric" }) + " " +
    d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function fmtDuration(seconds) {
  seconds = Math.max(0, Math.round(seconds));
  if (seconds < 60) return `${seconds} s`;
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  if (m < 60) return s ? `${m} min ${s} s` : `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function fmtClock(seconds) {
  seconds = Math.max(0, Math.floor(seconds));
  const hh = Math.floor(seconds / 3600);
  const mm = String(Math.floor((seconds % 3600) / 60)).padStart(2, "0");
  const ss = String(seconds % 60).padStart(2, "0");
  return hh ? `${hh}:${mm}:${ss}` : `${mm}:${ss}`;
}

export function alertDuration(alert) {
  const start = Date.parse(alert.started_at);
  const end = alert.ended_at ? Date.parse(alert.ended_at) : Date.now();
  return (end - start) / 1000;
}

/** Wait until `pc` has gathered every ICE candidate (we never trickle), at most `ms`. */
export function iceGatheringComplete(pc, ms = 4000) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    }, ms);
    pc.addEventListener("icegatheringstatechange", done);
  });
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
