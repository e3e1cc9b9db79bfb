// Creating an exam: its details, rules and questions with their answers.

import { clear, h } from "../shared/dom.js";
import { submitting } from "../shared/form.js";
import { iconSmall } from "../shared/icons.js";
import { toast } from "../shared/toast.js";

/** The new-exam form in `main`; `loadExams` refreshes the sidebar once the exam exists. */
export function renderNewExam(api, main, loadExams) {
  const questions = h("div#question-list");
  const error = h("div.notice.bad#exam-error", { hidden: true });
  const field = (id, label, control, hint) => h("div.field", h("label", { for: id }, label), control, hint && h("span.hint", hint));
  const title = h("input#exam-title-input", { type: "text", required: true, maxLength: 200, placeholder: "Midterm: Linear algebra" });
  const description = h("textarea#exam-description", { rows: 2, placeholder: "Instructions shown to candidates (optional)" });
  const duration = h("input#exam-duration", { type: "number", min: 1, max: 1440, value: "60", required: true });
  const preset = h("select#exam-preset", h("option", { value: "strict" }, "Strict"), h("option", { value: "normal", selected: true }, "Normal"), h("option", { value: "lenient" }, "Lenient"));
  const showScore = h("input#exam-show-score", { type: "checkbox", checked: true });
  const recordScreen = h("input#exam-record-screen", { type: "checkbox" });
  const retention = h("input#exam-retention", { type: "number", min: 1, max: 3650, placeholder: "Server default" });

  const addQuestion = (kind = "choice") => {
    const text = h("textarea.q-text-input", { rows: 2, placeholder: "Question text", required: true });
    const options = h("textarea.q-options", { rows: 3, placeholder: "One option per line" });
    const answer = h("input.q-answer", { type: "text", placeholder: kind === "choice" ? "Must be one of the options" : "Expected answer (optional)" });
    const points = h("input.q-points-input", { type: "number", min: 0, max: 1000, step: "0.5", value: "1" });
    const type = h("select.q-type", { value: kind }, h("option", { value: "choice" }, "Multiple choice"), h("option", { value: "short" }, "Short answer"), h("option", { value: "open" }, "Open (graded by a person)"));
    const optionsField = h("div.field", h("label", "Options"), options);
    const answerField = h("div.field", h("label", "Correct answer"), answer);
    const sync = () => {
      optionsField.hidden = type.value !== "choice";
      answerField.hidden = type.value === "open";
    };
    type.addEventListener("change", sync);
    const box = h(
      "div.qb",
      h("div.qb-head", h("strong.qb-title"), h("span.spacer"), h("button.btn.ghost.sm", { type: "button", on: { click: () => (box.remove(), renumber()) } }, iconSmall("x"), "Remove")),
      h("div.stack", h("div.qb-grid", h("div.field", h("label", "Question"), text), h("div.field", h("label", "Type"), type), h("div.field", h("label", "Points"), points)), optionsField, answerField),
    );
    box.read = () => {
      const q = { text: text.value.trim(), points: Number(points.value || 0) };
      if (type.value === "choice") q.options = options.value.split("\n").map((s) => s.trim()).filter(Boolean);
      if (type.value !== "open" && answer.value.trim()) q.answer = answer.value.trim();
      return q;
    };
    sync();
    questions.append(box);
    renumber();
    text.focus();
  };
  const renumber = () => questions.querySelectorAll(".qb-title").forEach((el, i) => (el.textContent = `Question ${i + 1}`));

  const submit = h("button.btn.primary#create-exam", { type: "submit" }, "Create exam");
  const form = h(
    "form.stack",
    {
      on: {
        submit: submitting(submit, error, async () => {
          const body = {
            title: title.value.trim(),
            description: description.value.trim(),
            duration_minutes: Number(duration.value),
            show_score: showScore.checked,
            rules_preset: preset.value,
            record_screen: recordScreen.checked,
            retention_days: retention.value ? Number(retention.value) : null,
            questions: [...questions.children].map((box) => box.read()),
          };
          const exam = await api.post("/api/exams", body);
          toast(`“${exam.title}” was created. Enrol candidates next.`, { kind: "ok", title: "Exam created" });
          await loadExams();
          location.hash = `#/exam/${exam.id}/setup`;
        }),
      },
    },
    h(
      "div.card",
      h("div.card-head", h("h3", "Details")),
      h(
        "div.card-body.form-grid",
        h("div.full", field("exam-title-input", "Title", title)),
        h("div.full", field("exam-description", "Description", description)),
        field("exam-duration", "Duration (minutes)", duration, "The server enforces the deadline."),
        field("exam-preset", "Proctoring rules", preset, "How quickly alerts are raised."),
        field("exam-retention", "Keep recordings (days)", retention, "Recordings, snapshots and face data are deleted this long after each attempt."),
        h("label.checkbox.full", showScore, "Show the score to candidates when they submit"),
        h("label.checkbox.full", recordScreen, "Record the candidate's entire screen (asked before the questions show)"),
      ),
    ),
    h(
      "div.card",
      h("div.card-head", h("h3", "Questions"), h("span.spacer"), h("button.btn.sm#add-question", { type: "button", on: { click: () => addQuestion() } }, iconSmall("plus"), "Add question")),
      h("div.card-body", questions),
    ),
    error,
    h("div.row", h("span.spacer"), h("button.btn", { type: "button", on: { click: () => history.back() } }, "Cancel"), submit),
  );
  clear(main, h("div.main-head", h("div", h("h1", "New exam"), h("div.sub", "Questions with a correct answer are graded automatically."))), form);
  addQuestion("choice");
}
