// An alert in a candidate's timeline: what, when, the evidence, and the proctor's review of it.

import { h } from "../shared/dom.js";
import { fmtDuration, fmtTime } from "../shared/format.js";
import { icon } from "../shared/icons.js";
import { toast } from "../shared/toast.js";
import { kindColor, kindLabel } from "../shared/vocabulary.js";
import { evidenceImage } from "./evidence.js";
import { alertDuration, severityBadge } from "./labels.js";

/** One alert in the timeline with its review; `onSaved(alert)` after a review is stored. */
export function timelineItem(api, alert, onSaved) {
  const ongoing = alert.state !== "ended";
  const when = h("span.when", `${fmtTime(alert.started_at)} · ${ongoing ? "ongoing" : fmtDuration(alertDuration(alert))}`);
  const note = h("textarea.review-note", { placeholder: "Note (optional)", maxLength: 2000 });
  const review = async (status, button) => {
    button.disabled = true;
    try {
      const saved = await api.patch(`/api/alerts/${alert.id}`, { review_status: status, note: note.value.trim() || null });
      onSaved({ ...alert, ...saved });
      toast(`${kindLabel(alert.kind)} ${status === "pending" ? "reopened" : status}.`, { kind: "ok", timeout: 3000 });
    } catch (error) {
      toast(error.message, { kind: "bad", title: "Review not saved" });
      button.disabled = false;
    }
  };
  let reviewBox;
  if (alert.review_status === "pending") {
    const confirm = h("button.btn.sm.success.review-confirm", { on: { click: (e) => review("confirmed", e.currentTarget) } }, icon("check"), "Confirm");
    const dismiss = h("button.btn.sm.review-dismiss", { on: { click: (e) => review("dismissed", e.currentTarget) } }, icon("x"), "Dismiss");
    reviewBox = h("div.review", note, h("div.row", confirm, dismiss));
  } else {
    const cls = alert.review_status === "confirmed" ? "bad" : "ok";
    reviewBox = h(
      "div.reviewed",
      h("div.row", h(`span.badge.${cls}.review-status`, alert.review_status === "confirmed" ? "Confirmed" : "Dismissed"), alert.reviewed_at && h("span", fmtTime(alert.reviewed_at)), h("span.spacer"), h("button.btn.ghost.sm", { on: { click: (e) => review("pending", e.currentTarget) } }, "Reopen")),
      alert.review_note && h("div", { style: "margin-top:4px;color:var(--text-2)" }, `“${alert.review_note}”`),
    );
  }
  return h(
    "div.timeline-item",
    { style: `--tl-color:${kindColor(alert.kind)}`, dataset: { alertId: String(alert.id), kind: alert.kind, review: alert.review_status } },
    h("div.head", h("span.kind", kindLabel(alert.kind)), severityBadge(alert.severity), ongoing && h("span.badge.bad", "open")),
    when,
    h("div.msg", alert.message),
    alert.evidence_url && evidenceImage(api, alert),
    reviewBox,
  );
}
