// The candidate's exam list: each exam's state, starting a new attempt or resuming one.

import { clear, h } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { confirmDialog } from "../shared/modal.js";
import { toast } from "../shared/toast.js";
import { startCamera } from "./camera.js";
import { fmtScore } from "./exam-end.js";
import { ExamView, enterFullscreen } from "./exam-view.js";
import { api, state } from "./page.js";

export async function loadExams(list) {
  let exams;
  let sessions;
  try {
    [exams, sessions] = await Promise.all([api.get("/api/exams"), api.get("/api/sessions")]);
  } catch (error) {
    clear(list, h("div.empty", error.message));
    return;
  }
  if (!exams.exams.length) {
    clear(list, h("div.empty", icon("book"), h("div", "You are not enrolled in any exam yet."), h("div.small", "Your institution will enrol you; then press Refresh.")));
    return;
  }
  const byExam = new Map();
  for (const session of sessions.sessions) {
    if (!byExam.has(session.exam_id)) byExam.set(session.exam_id, session); // newest first
  }
  const ready = Boolean(state.stream) && state.enrolled && state.consented;
  clear(
    list,
    h("div.notice.info#start-hint", { hidden: ready, style: "margin:12px 20px 0" }, icon("info"), h("span", "Agree to the recording notice, allow your camera and enrol your reference photo to start an exam.")),
    exams.exams.map((exam) => {
      const session = byExam.get(exam.id);
      let action;
      let badge = null;
      if (session && session.status === "active") {
        badge = h("span.badge.warn", "In progress");
        action = h("button.btn.primary.start-exam", { disabled: !ready, on: { click: () => openExam(exam.id, session) } }, "Resume");
      } else if (session) {
        badge = h("span.badge.ok", session.status === "submitted" ? "Submitted" : session.status);
        action = session.score !== null && session.score !== undefined ? h("strong", `${fmtScore(session.score)} / ${fmtScore(session.max_score)}`) : null;
      } else {
        action = h("button.btn.primary.start-exam", { disabled: !ready, on: { click: (event) => beginExam(exam, event.currentTarget) } }, "Start exam");
      }
      return h(
        "div.exam-item",
        { dataset: { examId: String(exam.id) } },
        h("span.exam-icon", icon("book")),
        h("div", h("div.row", h("h3", exam.title), badge), h("div.meta", `${exam.duration_minutes} minutes · ${exam.questions.length} question${exam.questions.length === 1 ? "" : "s"}`)),
        h("span.spacer"),
        action,
      );
    }),
  );
}

async function beginExam(exam, button) {
  const ok = await confirmDialog({
    title: `Start “${exam.title}”?`,
    text: `You will have ${exam.duration_minutes} minutes. Your camera and microphone are monitored until you submit. The exam opens in fullscreen: stay on this tab.`,
    confirm: "Start now",
  });
  if (!ok) return;
  button.disabled = true;
  enterFullscreen();
  try {
    const session = await api.post(`/api/exams/${exam.id}/sessions`);
    await openExam(exam.id, session);
  } catch (error) {
    toast(error.message, { kind: "bad", title: "Could not start the exam" });
    button.disabled = false;
  }
}

async function openExam(examId, session) {
  const exam = await api.get(`/api/exams/${examId}`);
  const stream = state.stream || (await startCamera());
  if (!stream) {
    toast(state.cameraError, { kind: "bad", title: "Camera needed" });
    return;
  }
  if (state.meterStop) state.meterStop();
  state.meterStop = null;
  new ExamView(exam, session, stream).render();
}
