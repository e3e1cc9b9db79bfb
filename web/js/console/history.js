// The Alerts tab (history with the filters of GET /alerts) and the Insights tab (charts).

import { clear, h } from "../shared/dom.js";
import { fmtDateTime, fmtDuration } from "../shared/format.js";
import { icon } from "../shared/icons.js";
import { allKinds, kindColor, kindLabel } from "../shared/vocabulary.js";
import { hbars, histogram, stackedBars, timeBuckets } from "./charts.js";
import { evidenceImage } from "./evidence.js";
import { alertDuration, riskBadge, severityBadge } from "./labels.js";
import { RecordingPlayer } from "./player.js";

const PAGE = 25;

async function sessionNames(api, examId) {
  const overview = await api.get(`/api/exams/${examId}/overview?status=all`);
  return { names: new Map(overview.sessions.map((s) => [s.session_id, s.full_name || s.username])), sessions: overview.sessions };
}

export class HistoryTab {
  /** The attempt's recording, from a few seconds before the alert started. */
  playMoment(alert) {
    const name = this.names.get(alert.session_id) || `attempt #${alert.session_id}`;
    new RecordingPlayer(this.api, { session_id: alert.session_id, username: name, full_name: name }, null, alert.id);
  }

  constructor(api, exam, root) {
    this.api = api;
    this.exam = exam;
    this.root = root;
    this.offset = 0;
    this.names = new Map();
  }

  async mount() {
    const select = (id, label, options) =>
      h("div.field", h("label", { for: id }, label), h(`select#${id}`, h("option", { value: "" }, "Any"), options.map(([value, text]) => h("option", { value }, text))));
    const input = (id, label, type, extra = {}) => h("div.field", h("label", { for: id }, label), h(`input#${id}`, { type, ...extra }));
    this.form = h(
      "form.filters#history-filters",
      { on: { submit: (e) => (e.preventDefault(), (this.offset = 0), this.load()) } },
      select("f-kind", "Kind", allKinds().map((k) => [k, kindLabel(k)])),
      select("f-severity", "Severity", [["high", "High"], ["medium", "Medium"], ["low", "Low"]]),
      select("f-review", "Review", [["pending", "Pending"], ["confirmed", "Confirmed"], ["dismissed", "Dismissed"]]),
      input("f-session", "Attempt #", "number", { min: 1, placeholder: "Any" }),
      input("f-since", "From", "datetime-local"),
      input("f-until", "Until", "datetime-local"),
      h("button.btn.primary", { type: "submit" }, "Apply"),
    );
    this.body = h("tbody");
    this.pager = h("div.pager");
    clear(
      this.root,
      h(
        "div.card",
        this.form,
        h(
          "div.table-wrap",
          h("table.data#history-table", h("thead", h("tr", ["When", "Candidate", "Alert", "Severity", "Duration", "Review", "Evidence"].map((t) => h("th", t)))), this.body),
        ),
        this.pager,
      ),
    );
    try {
      this.names = (await sessionNames(this.api, this.exam.id)).names;
    } catch {
      // names are a nicety
    }
    await this.load();
  }

  query() {
    const value = (id) => this.form.querySelector(`#${id}`).value;
    const params = new URLSearchParams({ exam_id: this.exam.id, limit: PAGE, offset: this.offset });
    if (value("f-kind")) params.set("kind", value("f-kind"));
    if (value("f-severity")) params.set("severity", value("f-severity"));
    if (value("f-review")) params.set("review_status", value("f-review"));
    if (value("f-session")) params.set("session_id", value("f-session"));
    if (value("f-since")) params.set("since", new Date(value("f-since")).toISOString());
    if (value("f-until")) params.set("until", new Date(value("f-until")).toISOString());
    return params;
  }

  async load() {
    clear(this.body, h("tr", h("td", { colspan: 7 }, h("div.empty.small", "Loading…"))));
    let page;
    try {
      page = await this.api.get(`/alerts?${this.query()}`);
    } catch (error) {
      clear(this.body, h("tr", h("td.error-text", { colspan: 7 }, error.message)));
      return;
    }
    if (!page.alerts.length) {
      clear(this.body, h("tr", h("td", { colspan: 7 }, h("div.empty", icon("list"), h("div", "No alert matches these filters.")))));
    } else {
      clear(
        this.body,
        page.alerts.map((alert) => {
          const review = { pending: h("span.badge", "Pending"), confirmed: h("span.badge.bad", "Confirmed"), dismissed: h("span.badge.ok", "Dismissed") }[alert.review_status];
          return h(
            "tr",
            { dataset: { alertId: String(alert.id) } },
            h("td", fmtDateTime(alert.started_at)),
            h("td", h("strong", this.names.get(alert.session_id) || "—"), h("div.small.muted", `#${alert.session_id}`)),
            h("td", h("div.row", h("span.dot", { style: `background:${kindColor(alert.kind)}` }), h("strong", kindLabel(alert.kind))), h("div.small.muted", alert.message)),
            h("td", severityBadge(alert.severity)),
            h("td", alert.state === "ended" ? fmtDuration(alertDuration(alert)) : h("span.badge.bad", "open")),
            h("td", review, alert.review_note && h("div.small.muted", { title: alert.review_note }, `“${alert.review_note.slice(0, 40)}”`)),
            h(
              "td",
              alert.evidence_url ? evidenceImage(this.api, alert) : h("span.small.muted", "—"),
              h("button.btn.ghost.sm.play-moment", { title: "Play the recording from a few seconds before", on: { click: () => this.playMoment(alert) } }, icon("play"), "Recording"),
            ),
          );
        }),
      );
    }
    const from = page.total ? page.offset + 1 : 0;
    const to = page.offset + page.alerts.length;
    clear(
      this.pager,
      h("span#history-total", `${from}-${to} of ${page.total} alerts`),
      h("span.spacer"),
      h("button.btn.sm", { disabled: page.offset === 0, on: { click: () => ((this.offset = Math.max(0, this.offset - PAGE)), this.load()) } }, "Previous"),
      h("button.btn.sm", { disabled: to >= page.total, on: { click: () => ((this.offset += PAGE), this.load()) } }, "Next"),
    );
    for (const img of this.body.querySelectorAll("img.evidence")) img.style.width = "72px";
  }
}

export class InsightsTab {
  constructor(api, exam, root) {
    this.api = api;
    this.exam = exam;
    this.root = root;
  }

  async mount() {
    clear(this.root, h("div.empty", "Loading…"));
    let alerts = [];
    let sessions = [];
    try {
      [alerts, { sessions }] = await Promise.all([this.allAlerts(), sessionNames(this.api, this.exam.id)]);
    } catch (error) {
      clear(this.root, h("div.notice.bad", error.message));
      return;
    }
    const times = alerts.map((a) => Date.parse(a.started_at));
    const starts = sessions.map((s) => Date.parse(s.started_at));
    const begin = Math.min(...times, ...starts, Date.now());
    const end = Math.max(...times, Date.now());
    const buckets = timeBuckets(begin, end);
    for (const alert of alerts) {
      const t = Date.parse(alert.started_at);
      const bucket = buckets.find((b) => t >= b.start && t < b.end) || buckets[buckets.length - 1];
      bucket.values[alert.kind] = (bucket.values[alert.kind] || 0) + 1;
    }
    const kinds = [...new Set([...allKinds(), ...alerts.map((a) => a.kind)])];
    const series = kinds.map((k) => ({ key: k, label: kindLabel(k), color: kindColor(k) }));
    const byKind = kinds
      .map((k) => ({ label: kindLabel(k), value: alerts.filter((a) => a.kind === k).length, color: kindColor(k) }))
      .filter((i) => i.value)
      .sort((a, b) => b.value - a.value);
    const count = (status) => alerts.filter((a) => a.review_status === status).length;
    const risks = sessions.map((s) => s.risk_score);
    const avg = risks.length ? risks.reduce((a, b) => a + b, 0) / risks.length : 0;
    const kpi = (label, value, extra = "") => h("div.card.stat", h("div.label", label), h("div.value", value, extra && h("small", extra)));
    const top = [...sessions].sort((a, b) => b.risk_score - a.risk_score).slice(0, 5);
    clear(
      this.root,
      h(
        "div.stats",
        kpi("Attempts", sessions.length, `${sessions.filter((s) => s.status === "active").length} active`),
        kpi("Alerts", alerts.length),
        kpi("Reviewed", count("confirmed") + count("dismissed"), `${count("confirmed")} confirmed · ${count("dismissed")} dismissed`),
        kpi("Average risk", Math.round(avg)),
      ),
      h(
        "div.stack",
        h("div.card#chart-kinds-time", h("div.card-head", h("div", h("h3", "Alerts by kind over time"), h("p", "When incidents started, stacked by kind"))), h("div.card-body", stackedBars({ buckets, series }))),
        h(
          "div.cols.even",
          h("div.card#chart-risk", h("div.card-head", h("div", h("h3", "Risk score distribution"), h("p", "Attempts per risk band (0 = no concern, 100 = very high)"))), h("div.card-body", histogram({ values: risks }))),
          h(
            "div.stack",
            h("div.card", h("div.card-head", h("h3", "Alerts by kind")), h("div.card-body", hbars({ items: byKind }))),
            h(
              "div.card",
              h("div.card-head", h("h3", "Highest risk")),
              h("div.card-body.stack.tight", top.length ? top.map((s) => h("div.row", h("strong", s.full_name || s.username), h("span.small.muted", `#${s.session_id} · ${s.status}`), h("span.spacer"), riskBadge(s.risk_score))) : h("div.muted.small", "No attempts yet.")),
            ),
          ),
        ),
      ),
    );
  }

  async allAlerts() {
    const alerts = [];
    for (let offset = 0; offset < 2000; offset += 500) {
      const page = await this.api.get(`/alerts?exam_id=${this.exam.id}&limit=500&offset=${offset}`);
      alerts.push(...page.alerts);
      if (alerts.length >= page.total) break;
    }
    return alerts;
  }
}
