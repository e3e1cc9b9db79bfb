// The proctor console (proctors and admins): exams, live monitoring, alert history, insights,
// and the admin tasks (create an exam with questions, enrol candidates, assign proctors, users).

import { Api } from "../shared/api.js";
import { clear, h } from "../shared/dom.js";
import { icon, iconSmall } from "../shared/icons.js";
import { renderTopbar } from "../shared/shell.js";
import { toast } from "../shared/toast.js";
import { loadVocabulary } from "../shared/vocabulary.js";
import { HistoryTab, InsightsTab } from "./history.js";
import { LiveExam } from "./live.js";
import { renderLogin } from "./login.js";
import { renderNewExam } from "./new-exam.js";
import { renderPeople } from "./people.js";
import { renderSetup } from "./setup.js";

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
  const role = api.user?.role === "admin" ? "Administrator" : "Proctor";
  const signOut = () => api.logout().finally(() => ((location.hash = ""), start()));
  renderTopbar(topbar, "Console", api.user, role, signOut);
  if (!api.loggedIn) renderLogin(api, app, start);
  else Promise.all([loadExams(), loadVocabulary(api)]).then(render, (error) => toast(error.message, { kind: "bad", title: "Could not load the console" }));
}

function unmountCurrent() {
  if (current && current.unmount) current.unmount();
  current = null;
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
  if (route.kind === "new") return renderNewExam(api, main, loadExams);
  if (route.kind === "people" && api.user.role === "admin") return renderPeople(api, main);
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
    renderSetup(api, body, exam);
  }
}





start();
