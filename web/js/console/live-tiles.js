// The live grid's tiles: one card per attempt with its thumbnail, status, risk and alert chips.

import { clear, h } from "../shared/dom.js";
import { fmtClock, initials } from "../shared/format.js";
import { kindColor, kindLabel } from "../shared/vocabulary.js";
import { displayName, riskBadge } from "./labels.js";

/** A tile for one attempt: thumbnail, status, risk and open alerts; `onOpen` when chosen. */
export function makeTile(entry, onOpen) {
  const img = h("img", { alt: "", hidden: true });
  const placeholder = h("div.placeholder", "Waiting for video…");
  const status = h("span.badge.glass");
  const risk = h("span");
  const chips = h("div.bl");
  const name = h("div.name");
  const sub = h("div.sub");
  const el = h(
    "div.card.tile",
    { dataset: { sessionId: String(entry.session_id) }, tabindex: 0, role: "button", on: { click: () => onOpen(), keydown: (e) => e.key === "Enter" && onOpen() } },
    h("div.shot", img, placeholder, h("div.tl", status), h("div.tr", risk), chips),
    h("div.info", h("span.avatar", initials(displayName(entry))), h("div", { style: "min-width:0" }, name, sub)),
  );
  return { el, img, placeholder, status, risk, chips, name, sub, loading: false };
}

export function updateTile(tile, entry) {
  if (!tile) return;
  tile.name.textContent = displayName(entry);
  tile.sub.textContent = `@${entry.username} · #${entry.session_id} · ${fmtClock((Date.parse(entry.deadline_at) - Date.now()) / 1000)} left`;
  tile.el.dataset.connected = String(entry.connected);
  clear(tile.status, h(`span.dot${entry.connected ? ".ok" : ""}`), entry.connected ? "Live" : entry.live ? "Offline" : "Not connected");
  clear(tile.risk, riskBadge(entry.risk_score));
  const kinds = [...new Set(entry.open_alerts.map((a) => a.kind))];
  clear(
    tile.chips,
    kinds.slice(0, 3).map((kind) => h("span.chip", { style: `background:${kindColor(kind)}`, dataset: { kind } }, kindLabel(kind))),
    kinds.length > 3 && h("span.chip.glass", `+${kinds.length - 3}`),
  );
  tile.el.classList.toggle("alerting", kinds.length > 0);
}
