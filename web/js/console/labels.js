// How the console shows alerts and attempts: kind labels and colours, severity and risk
// badges, durations, candidate names.

import { h } from "../shared/dom.js";

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

export function alertDuration(alert) {
  const start = Date.parse(alert.started_at);
  const end = alert.ended_at ? Date.parse(alert.ended_at) : Date.now();
  return (end - start) / 1000;
}

/** The name a proctor sees for an attempt: the full name, else the username. */
export function displayName(entry) {
  return entry.full_name || entry.username;
}
