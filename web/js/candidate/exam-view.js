// The exam itself: questions, answers saved as typed, the countdown, the live link, submitting.

import { ApiError } from "../shared/api.js";
import { clear, h } from "../shared/dom.js";
import { fmtClock } from "../shared/format.js";
import { icon } from "../shared/icons.js";
import { confirmDialog } from "../shared/modal.js";
import { toast } from "../shared/toast.js";
import { stopCamera } from "./camera.js";
import { renderClosed, renderResult } from "./exam-end.js";
import { showLinkState, showServerMessage } from "./exam-notices.js";
import { ExamLink, watchPageEvents } from "./link.js";
import { api, app } from "./page.js";
import { ScreenGate } from "./screen.js";

export function enterFullscreen() {
  const root = document.documentElement;
  if (!document.fullscreenElement && root.requestFullscreen) root.requestFullscreen().catch(() => {});
}

export class ExamView {
  constructor(exam, session, stream) {
    this.exam = exam;
    this.session = session;
    this.stream = stream;
    this.storeKey = `proctor.answers.${session.session_id}`;
    this.answers = JSON.parse(localStorage.getItem(this.storeKey) || "{}");
    this.dirty = false;
    this.saving = false;
    this.finished = false;
    this.deadline = performance.now() + session.seconds_left * 1000;
    this.link = null;
    this.timers = [];
  }

  render() {
    const exam = this.exam;
    this.countdown = h("div.countdown#countdown", "--:--");
    this.connection = h("span.badge#connection-status", { dataset: { state: "connecting" } }, h("span.dot"), "Connecting");
    this.saveState = h("div.save-state#save-status", "All answers saved");
    this.progressBar = h("span");
    this.progressText = h("span.small.muted");
    this.banner = h("div.banner#fullscreen-banner", { hidden: true }, icon("fullscreen"), h("span", "You left fullscreen. Please return to it for the rest of the exam."), h("span.spacer"), h("button.btn.sm", { on: { click: enterFullscreen } }, "Return to fullscreen"));
    const selfView = h("video.mirror#self-view", { autoplay: true, muted: true, playsInline: true });
    selfView.srcObject = this.stream;
    const submit = h("button.btn.primary.block#submit-exam", { on: { click: () => this.confirmSubmit() } }, "Submit exam");

    const questions = exam.questions.map((q, index) => this.renderQuestion(q, index));
    const questionsCard = h("div.card#questions", questions.length ? questions : h("div.empty", "This exam has no questions."));
    const gateSlot = h("div.stack");
    const screenCard = h("div.card.card-body.stack.tight#screen-card", { hidden: true }, h("div.row", h("span.section-title", "Your screen"), h("span.spacer"), h("span.small.muted", "Recorded")));
    clear(
      app,
      h(
        "div.page#exam-view",
        { dataset: { sessionId: String(this.session.session_id) } },
        this.banner,
        h("div.page-head", h("div", h("h1", exam.title), h("p", exam.description || `${exam.questions.length} questions · answers are saved as you type`))),
        h(
          "div.exam-layout",
          h("div.stack", gateSlot, questionsCard),
          h(
            "aside.exam-side",
            h("div.card.card-body.stack", h("div.row", h("span.section-title", "Time left"), h("span.spacer"), this.connection), this.countdown, h("div.progress", this.progressBar), this.progressText, this.saveState, submit),
            h("div.card.card-body.stack.tight", h("div.row", h("span.section-title", "Your camera"), h("span.spacer"), h("span.small.muted", "Monitored")), h("div.video-frame", selfView)),
            screenCard,
            h("div.small.muted", { style: "padding:0 4px" }, "Stay in view, alone, on this tab. Warnings appear in the corner; they are also seen by your proctor."),
          ),
        ),
      ),
    );
    this.updateProgress();
    this.link = new ExamLink(api, this.session.session_id, this.stream, {
      onState: (s) => showLinkState(this.connection, s),
      onMessage: (m) => showServerMessage(m),
      onEnded: () => this.onEndedRemotely(),
    });
    this.link.start();
    this.stopEvents = watchPageEvents(this.link);
    if (exam.record_screen) {
      // The questions stay hidden until the entire screen is shared, and again if it stops.
      this.screenGate = new ScreenGate(this.link, (shared) => {
        questionsCard.hidden = !shared;
        screenCard.hidden = !shared;
      });
      questionsCard.hidden = true;
      gateSlot.append(this.screenGate.el);
      screenCard.append(h("div.video-frame", this.screenGate.preview));
      this.screenGate.preview.hidden = false;
    }
    const onFullscreen = () => (this.banner.hidden = Boolean(document.fullscreenElement) || this.finished || !this.wasFullscreen);
    document.addEventListener("fullscreenchange", () => {
      if (document.fullscreenElement) this.wasFullscreen = true;
      onFullscreen();
    });
    this.wasFullscreen = Boolean(document.fullscreenElement);
    this.timers.push(setInterval(() => this.tick(), 250));
    this.timers.push(setInterval(() => this.save(), 15000));
    this.timers.push(setInterval(() => this.syncSession(), 20000));
    this.tick();
  }

  renderQuestion(q, index) {
    const saved = this.answers[q.id] ?? "";
    let input;
    if (q.options && q.options.length) {
      input = h(
        "div",
        q.options.map((option) =>
          h(
            "label.option",
            h("input", { type: "radio", name: `q-${q.id}`, value: option, checked: saved === option, on: { change: () => this.setAnswer(q.id, option) } }),
            h("span", option),
          ),
        ),
      );
    } else {
      input = h("textarea", { name: `q-${q.id}`, rows: 3, placeholder: "Your answer", value: saved, on: { input: (event) => this.setAnswer(q.id, event.target.value) } });
    }
    return h(
      "section.question",
      { dataset: { questionId: String(q.id) } },
      h("div.row", h("span.q-num", `Question ${index + 1}`), h("span.q-points", `${q.points} pt${q.points === 1 ? "" : "s"}`)),
      h("div.q-text", q.text),
      input,
    );
  }

  setAnswer(questionId, value) {
    this.answers[questionId] = value;
    localStorage.setItem(this.storeKey, JSON.stringify(this.answers));
    this.dirty = true;
    this.saveState.textContent = "Unsaved changes…";
    this.updateProgress();
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.save(), 700);
  }

  answerList() {
    return Object.entries(this.answers)
      .filter(([, value]) => value !== "")
      .map(([id, answer]) => ({ question_id: Number(id), answer }));
  }

  updateProgress() {
    const total = this.exam.questions.length;
    const done = this.answerList().length;
    this.progressBar.style.width = total ? `${(done / total) * 100}%` : "0";
    this.progressText.textContent = `${done} of ${total} answered`;
  }

  async save() {
    if (!this.dirty || this.saving || this.finished) return;
    this.saving = true;
    this.dirty = false;
    this.saveState.textContent = "Saving…";
    try {
      await api.put(`/api/sessions/${this.session.session_id}/answers`, { answers: this.answerList() });
      this.saveState.textContent = `All answers saved · ${new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`;
    } catch (error) {
      this.dirty = true;
      if (error instanceof ApiError && error.status === 409) return this.onEndedRemotely();
      this.saveState.textContent = "Could not save: retrying…";
      setTimeout(() => this.save(), 3000);
    } finally {
      this.saving = false;
    }
  }

  tick() {
    const left = (this.deadline - performance.now()) / 1000;
    this.countdown.textContent = fmtClock(left);
    this.countdown.className = "countdown" + (left < 60 ? " bad" : left < 300 ? " warn" : "");
    if (left <= 0 && !this.finished) this.submit(true);
  }

  async syncSession() {
    try {
      const session = await api.get(`/api/sessions/${this.session.session_id}`);
      if (session.status !== "active") return this.onEndedRemotely(session);
      this.deadline = performance.now() + session.seconds_left * 1000;
    } catch {
      // the next sync will tell
    }
  }

  async confirmSubmit() {
    const total = this.exam.questions.length;
    const done = this.answerList().length;
    const ok = await confirmDialog({
      title: "Submit your exam?",
      text: `You answered ${done} of ${total} questions. You cannot change your answers after submitting.`,
      confirm: "Submit",
    });
    if (ok) await this.submit(false);
  }

  async submit(timeUp) {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.saveTimer);
    try {
      const result = await api.post("/submit", { session_id: this.session.session_id, answers: this.answerList() });
      this.finish();
      renderResult(this.exam, result, timeUp);
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        this.finish();
        renderClosed(error.code === "deadline_passed" ? "The time for this exam is over. Your saved answers count." : "This attempt is already closed.");
        return;
      }
      this.finished = false;
      toast(error.message, { kind: "bad", title: "Could not submit" });
    }
  }

  finish() {
    this.finished = true;
    for (const timer of this.timers) clearInterval(timer);
    if (this.stopEvents) this.stopEvents();
    if (this.link) this.link.stop();
    if (this.screenGate) this.screenGate.stop();
    localStorage.removeItem(this.storeKey);
    stopCamera();
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  }

  async onEndedRemotely(session) {
    if (this.finished) return;
    if (!session) {
      try {
        session = await api.get(`/api/sessions/${this.session.session_id}`);
      } catch {
        session = null;
      }
    }
    if (session && session.status === "active") return; // not ended after all: keep going
    this.finish();
    const why = {
      terminated: "Your proctor has ended this exam session.",
      expired: "The time for this exam is over. Your saved answers count.",
      submitted: "This exam has been submitted.",
    };
    renderClosed((session && why[session.status]) || "This exam session has ended.");
  }
}
