// How the console shows alerts and attempts: severity and risk badges, durations, candidate
// names (kind labels and colours come from shared/vocabulary.js).

import { h } from "../shared/dom.js";
import { riskClass } from "../shared/vocabulary.js";

export function severityBadge(severity) {
  const cls = { high: "bad", medium: "warn", low: "" }[severity] ?? "";
  return h(`span.badge${cls ? "." + cls : ""}`, severity);
}

export function riskBadge(score) {
  return h(`span.risk.${riskClass(score)}`, { title: "Risk score (0-100)" }, Math.round(score));
}

export function alertDuration(alert) {
  const start = Date.parse(alert.started_at);
  const end = alert.ended_at ? Date.parse(alert.ended_at) : Date.now();
  return (end - start) / 1000;
}

/** The name a proctor sees for an attempt: the full name, else the username. */
export function displayName(entry) {
  return entry.full_name || entry.username;
}
