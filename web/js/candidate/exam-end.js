// The end of an attempt: the result after submitting, or why the exam was closed.

import { clear, h } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { app, route } from "./page.js";

export function fmtScore(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

/** The page after submitting: the score when the exam shows it, else that answers were received. */
export function renderResult(exam, result, timeUp) {
  const hasScore = result.score !== null && result.score !== undefined;
  clear(
    app,
    h(
      "div.page",
      h(
        "div.card.result-card#result",
        h(
          "div.card-body",
          h("div.result-icon", icon(hasScore ? "trophy" : "check")),
          h("h1", timeUp ? "Time is up: your exam was submitted" : "Exam submitted"),
          h("p.muted", exam.title),
          hasScore
            ? [h("div.big#score", `${fmtScore(result.score)} / ${fmtScore(result.max_score)}`), h("p.muted", `${Math.round((result.score / (result.max_score || 1)) * 100)}% · open questions are graded later by a person`)]
            : h("p#score-hidden", { style: "margin-top:12px" }, "Your answers were received. Your results will be published by your institution."),
          h("div", { style: "margin-top:20px" }, h("button.btn", { on: { click: () => route() } }, "Back to my exams")),
        ),
      ),
    ),
  );
}

/** The page when the attempt was closed otherwise than by the candidate submitting. */
export function renderClosed(text) {
  clear(
    app,
    h(
      "div.page",
      h(
        "div.card.result-card#result",
        h("div.card-body", h("div.result-icon", icon("info")), h("h1", "Exam closed"), h("p.muted#closed-reason", text), h("div", { style: "margin-top:20px" }, h("button.btn", { on: { click: () => route() } }, "Back to my exams"))),
      ),
    ),
  );
}
