// The live tab's alert feed: the exam's newest alerts, one row per incident, newest first.

import { h } from "../shared/dom.js";
import { fmtDuration, fmtTime } from "../shared/format.js";
import { icon } from "../shared/icons.js";
import { kindColor, kindLabel } from "../shared/vocabulary.js";
import { alertDuration, displayName, severityBadge } from "./labels.js";

const FEED_LIMIT = 60;

export class AlertFeed {
  /** `sessions`: the live attempts by id (for names); `onOpen(sessionId)`: a row was clicked. */
  constructor(api, exam, sessions, onOpen) {
    this.api = api;
    this.exam = exam;
    this.sessions = sessions;
    this.onOpen = onOpen;
    this.el = h("div.feed#alert-feed");
    this.items = new Map();
  }

  async loadRecent() {
    try {
      const page = await this.api.get(`/alerts?exam_id=${this.exam.id}&limit=25`);
      for (const alert of page.alerts.reverse()) this.add(alert, false);
    } catch {
      // the live feed still works
    }
    this.renderEmpty();
  }

  renderEmpty() {
    if (!this.items.size && !this.el.querySelector(".empty")) {
      this.el.append(h("div.empty.small", icon("check"), h("div", "No alerts so far.")));
    }
  }

  /** Show `alert` (a new one, or an update of its incident's row) at the top. */
  add(alert, fresh) {
    this.el.querySelector(".empty")?.remove();
    const existing = this.items.get(alert.incident_id);
    const entry = this.sessions.get(alert.session_id);
    const who = entry ? displayName(entry) : `Session ${alert.session_id}`;
    const ended = alert.state === "ended";
    const detail = ended ? `ended after ${fmtDuration(alertDuration(alert))}` : alert.message;
    const el = h(
      `div.feed-item${fresh && !existing ? ".fresh" : ""}`,
      { dataset: { alertId: String(alert.id), kind: alert.kind, sessionId: String(alert.session_id), state: alert.state }, on: { click: () => this.onOpen(alert.session_id) } },
      h("span.bar", { style: `background:${kindColor(alert.kind)}` }),
      h(
        "div",
        { style: "min-width:0;flex:1" },
        h("div.row", h("span.what", kindLabel(alert.kind)), severityBadge(alert.severity), h("span.spacer"), h("span.small.muted", fmtTime(alert.started_at))),
        h("div.detail", h("strong", who), " · ", detail),
      ),
    );
    if (existing) existing.replaceWith(el);
    else this.el.prepend(el);
    this.items.set(alert.incident_id, el);
    while (this.el.children.length > FEED_LIMIT) {
      const last = this.el.lastElementChild;
      for (const [key, value] of this.items) if (value === last) this.items.delete(key);
      last.remove();
    }
  }
}
