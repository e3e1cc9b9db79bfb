// The Review tab: every attempt at the exam, riskiest first, with how many of its alerts
// still wait for a review; each opens its recording in the player.

import { clear, h } from "../shared/dom.js";
import { fmtDateTime } from "../shared/format.js";
import { icon } from "../shared/icons.js";
import { displayName, riskBadge } from "./labels.js";
import { RecordingPlayer } from "./player.js";

export class ReviewTab {
  constructor(api, exam, root) {
    this.api = api;
    this.exam = exam;
    this.root = root;
  }

  async mount() {
    clear(this.root, h("div.empty.small", "Loading the attempts…"));
    let overview;
    let alerts;
    try {
      [overview, alerts] = await Promise.all([
        this.api.get(`/api/exams/${this.exam.id}/overview?status=all`),
        this.api.get(`/alerts?exam_id=${this.exam.id}&limit=500`),
      ]);
    } catch (error) {
      clear(this.root, h("div.notice.bad", icon("alert"), h("span", error.message)));
      return;
    }
    const pending = new Map();
    for (const alert of alerts.alerts) {
      if (alert.review_status === "pending") pending.set(alert.session_id, (pending.get(alert.session_id) || 0) + 1);
    }
    const attempts = overview.sessions.slice().sort((a, b) => b.risk_score - a.risk_score || b.session_id - a.session_id);
    if (!attempts.length) {
      clear(this.root, h("div.card.empty", icon("play"), h("div", "No attempt yet.")));
      return;
    }
    clear(
      this.root,
      h(
        "div.card",
        h("div.card-head", h("div", h("h3", "Review queue"), h("p", "Riskiest first. An attempt is reviewed once each of its alerts is confirmed or dismissed."))),
        h(
          "table.data#review-queue",
          h("thead", h("tr", h("th", "Candidate"), h("th", "Started"), h("th", "Status"), h("th", "Risk"), h("th", "Alerts"), h("th", "Review"), h("th"))),
          h(
            "tbody",
            attempts.map((entry) => {
              const waiting = pending.get(entry.session_id) || 0;
              const reviewed = waiting === 0;
              return h(
                "tr.review-row",
                { dataset: { sessionId: String(entry.session_id), reviewed: String(reviewed) } },
                h("td", displayName(entry)),
                h("td.small", fmtDateTime(entry.started_at)),
                h("td", h("span.badge", entry.status)),
                h("td", riskBadge(entry.risk_score)),
                h("td", String(entry.alert_count)),
                h("td", reviewed ? h("span.badge.ok", entry.alert_count ? "Reviewed" : "Nothing to review") : h("span.badge.warn", `${waiting} to review`)),
                h("td", h("button.btn.sm.open-recording", { on: { click: () => new RecordingPlayer(this.api, entry, () => this.mount()) } }, icon("play"), "Open")),
              );
            }),
          ),
        ),
      ),
    );
  }
}
