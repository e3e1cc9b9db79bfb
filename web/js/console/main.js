// The proctor console (proctors and admins): exams, live monitoring, alert history, insights,
// and the admin tasks (create an exam with questions, enrol candidates, assign proctors, users).

import { Api, ApiError } from "../shared/api.js";
import { HistoryTab, InsightsTab } from "./history.js";
import { LiveExam } from "./live.js";
import { clear, h } from "../shared/dom.js";
import { initials } from "../shared/format.js";
import { icon } from "../shared/icons.js";
import { brand } from "../shared/shell.js";
import { toast } from "../shared/toast.js";

const api = new Api("proctor.console");
const app = document.getElementById("app");
const topbar = document.getElementById("topbar");
const TABS = [
  ["live", "Live", "grid"],
  ["alerts", "Alerts", "list"],
  ["insights", "Insights", "chart"],
  ["setup", "Setup", "settings"],
];

let exams = [];
let current = null; // the mounted tab (has unmount() when live)

api.onUnauthorized = () => {
  api.forget();
  toast("Your sign-in has expired. Please sign in again.", { kind: "warn" });
  start();
};

window.addEventListener("hashchange", () => api.loggedIn && render());

function start() {
  unmountCurrent();
  renderTopbar();
  if (!api.loggedIn) renderLogin();
  else loadExams().then(render);
}

function unmountCurrent() {
  if (current && current.unmount) current.unmount();
  current = null;
}

function renderTopbar() {
  const user = api.user;
  clear(
    topbar,
    brand("Console"),
    user &&
      h(
        "div.userbox",
        h("span.avatar", initials(user.full_name || user.username)),
        h("div.who", h("strong", user.full_name || user.username), h("small", user.role === "admin" ? "Administrator" : "Proctor")),
        h("button.btn.ghost.sm#logout", { on: { click: () => (api.forget(), (location.hash = ""), start()) } }, icon("logout"), "Sign out"),
      ),
  );
}

function renderLogin() {
  const error = h("div.notice.bad#auth-error", { hidden: true });
  const username = h("input#auth-username", { type: "text", autocomplete: "username", required: true });
  const password = h("input#auth-password", { type: "password", autocomplete: "current-password", required: true });
  const submit = h("button.btn.primary.block#auth-submit", { type: "submit" }, "Sign in");
  clear(
    app,
    h(
      "div.auth-wrap",
      h(
        "div.card.auth-card",
        h(
          "div.card-body",
          h("h1", "Proctor console"),
          h("p.lead", "Sign in to watch your exams live, review alerts and manage exams."),
          h(
            "form.stack",
            {
              on: {
                submit: async (event) => {
                  event.preventDefault();
                  error.hidden = true;
                  submit.disabled = true;
                  try {
                    const user = await api.login(username.value.trim(), password.value);
                    if (user.role === "candidate") {
                      api.forget();
                      throw new ApiError(403, "wrong_page", "This is a candidate account: take your exam at the home page (/).");
                    }
                    start();
                  } catch (e) {
                    clear(error, icon("alert"), h("span", e.message));
                    error.hidden = false;
                  } finally {
                    submit.disabled = false;
                  }
                },
              },
            },
            h("div.field", h("label", { for: "auth-username" }, "Username"), username),
            h("div.field", h("label", { for: "auth-password" }, "Password"), password),
            error,
            submit,
          ),
        ),
      ),
    ),
  );
  username.focus();
}

async function loadExams() {
  try {
    exams = (await api.get("/api/exams")).exams;
  } catch (error) {
    exams = [];
    toast(error.message, { kind: "bad", title: "Could not load exams" });
  }
}

function parseHash() {
  const [, kind = "", id = "", tab = "live"] = location.hash.split("/");
  return { kind, id: Number(id), tab };
}

function render() {
  unmountCurrent();
  const route = parseHash();
  const main = h("section.main");
  clear(app, h("div.console", sidebar(route), main));
  if (route.kind === "exam") {
    const exam = exams.find((e) => e.id === route.id);
    if (exam) return renderExam(main, exam, TABS.some(([t]) => t === route.tab) ? route.tab : "live");
  }
  if (route.kind === "new") return renderNewExam(main);
  if (route.kind === "people" && api.user.role === "admin") return renderPeople(main);
  renderWelcome(main);
}

function sidebar(route) {
  const admin = api.user.role === "admin";
  return h(
    "nav.sidebar",
    h("div.section-title", "Exams"),
    exams.length
      ? exams.map((exam) =>
          h(
            "button.nav-item.exam-link",
            { dataset: { examId: String(exam.id) }, "aria-current": String(route.kind === "exam" && route.id === exam.id), on: { click: () => (location.hash = `#/exam/${exam.id}/live`) } },
            icon("book"),
            h("span", { style: "overflow:hidden;text-overflow:ellipsis;white-space:nowrap" }, exam.title),
          ),
        )
      : h("div.small.muted", { style: "padding:4px 10px" }, api.user.role === "admin" ? "No exams yet." : "No exams assigned to you yet."),
    h("div.section-title", { style: "margin-top:14px" }, "Manage"),
    h("button.nav-item#nav-new-exam", { "aria-current": String(route.kind === "new"), on: { click: () => (location.hash = "#/new") } }, icon("plus"), "New exam"),
    admin && h("button.nav-item#nav-people", { "aria-current": String(route.kind === "people"), on: { click: () => (location.hash = "#/people") } }, icon("users"), "People"),
    h("span.spacer"),
    h("div.small.muted", { style: "padding:10px" }, h("a", { href: "/" }, "Candidate page →")),
  );
}

function renderWelcome(main) {
  clear(
    main,
    h("div.main-head", h("div", h("h1", "Welcome"), h("div.sub", "Choose an exam on the left to watch it live."))),
    h(
      "div.card.empty",
      icon("eye"),
      h("div", exams.length ? `You watch ${exams.length} exam${exams.length === 1 ? "" : "s"}.` : "No exam yet."),
      h("div.small", "Live thumbnails, alerts, and one-click full video with overlays are in each exam's Live tab."),
      h("div", { style: "margin-top:12px" }, h("button.btn.primary", { on: { click: () => (location.hash = "#/new") } }, icon("plus"), "Create an exam")),
    ),
  );
}

function renderExam(main, exam, tab) {
  const body = h("div#tab-body");
  clear(
    main,
    h(
      "div.main-head",
      h("div", h("h1#exam-title", exam.title), h("div.sub", `${exam.duration_minutes} min · ${exam.questions.length} questions · ${exam.rules_preset} rules · scores ${exam.show_score ? "shown" : "hidden"} to candidates`)),
    ),
    h(
      "div.tabs",
      { role: "tablist" },
      TABS.map(([key, label, glyph]) =>
        h("button.tab", { id: `tab-${key}`, role: "tab", "aria-selected": String(key === tab), on: { click: () => (location.hash = `#/exam/${exam.id}/${key}`) } }, h("span.row", { style: "gap:6px" }, iconSmall(glyph), label)),
      ),
    ),
    body,
  );
  if (tab === "live") {
    current = new LiveExam(api, exam, body);
    current.mount();
  } else if (tab === "alerts") {
    new HistoryTab(api, exam, body).mount();
  } else if (tab === "insights") {
    new InsightsTab(api, exam, body).mount();
  } else {
    renderSetup(body, exam);
  }
}

function iconSmall(name) {
  const svg = icon(name);
  svg.setAttribute("width", "16");
  svg.setAttribute("height", "16");
  return svg;
}

// ---- setup: questions, enrolment ------------------------------------------------------------

function splitNames(text) {
  return [...new Set(text.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean))];
}

function enrolCard({ id, title, text, path, role }) {
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

function renderSetup(body, exam) {
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
        enrolCard({ id: "enrol-candidates", title: "Enrol candidates", text: "They will see this exam on their page", path: `/api/exams/${exam.id}/candidates`, role: "candidate" }),
        enrolCard({ id: "assign-proctors", title: "Assign proctors", text: "They will watch this exam live", path: `/api/exams/${exam.id}/proctors`, role: "proctor" }),
      ),
    ),
  );
}

// ---- new exam ---------------------------------------------------------------------------------

function renderNewExam(main) {
  const questions = h("div#question-list");
  const error = h("div.notice.bad#exam-error", { hidden: true });
  const field = (id, label, control, hint) => h("div.field", h("label", { for: id }, label), control, hint && h("span.hint", hint));
  const title = h("input#exam-title-input", { type: "text", required: true, maxLength: 200, placeholder: "Midterm: Linear algebra" });
  const description = h("textarea#exam-description", { rows: 2, placeholder: "Instructions shown to candidates (optional)" });
  const duration = h("input#exam-duration", { type: "number", min: 1, max: 1440, value: "60", required: true });
  const preset = h("select#exam-preset", h("option", { value: "strict" }, "Strict"), h("option", { value: "normal", selected: true }, "Normal"), h("option", { value: "lenient" }, "Lenient"));
  const showScore = h("input#exam-show-score", { type: "checkbox", checked: true });

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
        submit: async (event) => {
          event.preventDefault();
          error.hidden = true;
          submit.disabled = true;
          const body = {
            title: title.value.trim(),
            description: description.value.trim(),
            duration_minutes: Number(duration.value),
            show_score: showScore.checked,
            rules_preset: preset.value,
            questions: [...questions.children].map((box) => box.read()),
          };
          try {
            const exam = await api.post("/api/exams", body);
            toast(`“${exam.title}” was created. Enrol candidates next.`, { kind: "ok", title: "Exam created" });
            await loadExams();
            location.hash = `#/exam/${exam.id}/setup`;
          } catch (e) {
            clear(error, icon("alert"), h("span", e.message));
            error.hidden = false;
          } finally {
            submit.disabled = false;
          }
        },
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
        h("label.checkbox.full", showScore, "Show the score to candidates when they submit"),
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

// ---- people (admin) ---------------------------------------------------------------------------

function renderPeople(main) {
  const username = h("input#user-username", { type: "text", required: true, placeholder: "jane.doe" });
  const fullName = h("input#user-fullname", { type: "text", placeholder: "Jane Doe" });
  const password = h("input#user-password", { type: "password", required: true, placeholder: "At least 8 characters" });
  const role = h("select#user-role", h("option", { value: "proctor" }, "Proctor"), h("option", { value: "admin" }, "Administrator"), h("option", { value: "candidate" }, "Candidate"));
  const result = h("div");
  const button = h("button.btn.primary", { type: "submit" }, icon("plus"), "Create account");
  clear(
    main,
    h("div.main-head", h("div", h("h1", "People"), h("div.sub", "Create proctor, administrator or candidate accounts. Candidates can also register themselves."))),
    h(
      "div.card",
      { style: "max-width:640px" },
      h("div.card-head", h("h3", "New account")),
      h(
        "form.card-body.form-grid",
        {
          on: {
            submit: async (event) => {
              event.preventDefault();
              button.disabled = true;
              const body = { username: username.value.trim(), password: password.value, role: role.value };
              if (fullName.value.trim()) body.full_name = fullName.value.trim();
              try {
                const user = await api.post("/api/users", body);
                clear(result, h("div.notice.ok", icon("check"), h("span", `${user.role} account “${user.username}” created.`)));
                username.value = fullName.value = password.value = "";
              } catch (error) {
                clear(result, h("div.notice.bad", icon("alert"), h("span", error.message)));
              } finally {
                button.disabled = false;
              }
            },
          },
        },
        h("div.field", h("label", { for: "user-username" }, "Username"), username),
        h("div.field", h("label", { for: "user-fullname" }, "Full name"), fullName),
        h("div.field", h("label", { for: "user-password" }, "Password"), password),
        h("div.field", h("label", { for: "user-role" }, "Role"), role),
        h("div.full", result),
        h("div.full.row", h("span.spacer"), button),
      ),
    ),
  );
}

start();
