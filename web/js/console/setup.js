// The Setup tab of an exam: its questions, and who takes it (candidates) or watches it (proctors).

import { clear, h } from "../shared/dom.js";
import { icon, iconSmall } from "../shared/icons.js";

function splitNames(text) {
  return [...new Set(text.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean))];
}

function enrolCard(api, { id, title, text, path, role }) {
  const area = h(`textarea#${id}`, { placeholder: "alice, bob.smith, carol@school.edu", rows: 3 });
  const result = h("div.small");
  const button = h("button.btn.primary", { type: "submit" }, icon("plus"), role === "candidate" ? "Enrol" : "Assign");
  return h(
    "div.card",
    h("div.card-head", h("div", h("h3", title), h("p", text))),
    h(
      "form.card-body.stack",
      {
        on: {
          submit: async (event) => {
            event.preventDefault();
            const usernames = splitNames(area.value);
            if (!usernames.length) return;
            button.disabled = true;
            try {
              const out = await api.post(path, { usernames });
              clear(result, h("div.notice.ok", icon("check"), h("span", `${out.user_ids.length} ${role}${out.user_ids.length === 1 ? "" : "s"} ${role === "candidate" ? "enrolled" : "assigned"}: ${usernames.join(", ")}.`)));
              area.value = "";
            } catch (error) {
              clear(result, h("div.notice.bad", icon("alert"), h("span", error.message)));
            } finally {
              button.disabled = false;
            }
          },
        },
      },
      h("div.field", h("label", { for: id }, "Usernames"), area, h("span.hint", "Separate with commas, spaces or new lines.")),
      h("div.row", button),
      result,
    ),
  );
}

/** The Setup tab: the exam's questions, enrolling candidates and assigning proctors. */
export function renderSetup(api, body, exam) {
  clear(
    body,
    h(
      "div.cols",
      h(
        "div.card",
        h("div.card-head", h("div", h("h3", "Questions"), h("p", `${exam.questions.length} questions · ${exam.questions.reduce((n, q) => n + q.points, 0)} points`))),
        exam.questions.length
          ? exam.questions.map((q, i) =>
              h(
                "section.question",
                h("div.row", h("span.q-num", `Question ${i + 1}`), h("span.q-points", `${q.points} pts`)),
                h("div.q-text", q.text),
                q.options.length ? h("div.row.wrap", q.options.map((o) => h(`span.badge${o === q.answer ? ".ok" : ""}`, o === q.answer ? [iconSmall("check"), o] : o))) : h("div.small.muted", q.answer ? ["Answer: ", h("strong", q.answer)] : "Open question, graded by a person"),
              ),
            )
          : h("div.empty", "No questions."),
      ),
      h(
        "div.stack",
        enrolCard(api, { id: "enrol-candidates", title: "Enrol candidates", text: "They will see this exam on their page", path: `/api/exams/${exam.id}/candidates`, role: "candidate" }),
        enrolCard(api, { id: "assign-proctors", title: "Assign proctors", text: "They will watch this exam live", path: `/api/exams/${exam.id}/proctors`, role: "proctor" }),
      ),
    ),
  );
}
