// The candidate's page: sign in, check camera and microphone, enrol a reference photo, take
// the exam with a live link to the proctors, submit.

import { Api, ApiError } from "../shared/api.js";
import { clear, h } from "../shared/dom.js";
import { fmtClock, initials } from "../shared/format.js";
import { icon } from "../shared/icons.js";
import { confirmDialog } from "../shared/modal.js";
import { brand } from "../shared/shell.js";
import { toast } from "../shared/toast.js";
import { ExamLink, watchPageEvents } from "./link.js";

const api = new Api("proctor.candidate");
const app = document.getElementById("app");
const topbar = document.getElementById("topbar");

// What the camera is asked for before the server says otherwise (it answers with the same).
const CAPTURE = {
  video: {
    width: { ideal: 640, max: 640 },
    height: { ideal: 480, max: 480 },
    frameRate: { ideal: 15, max: 15 },
    facingMode: "user",
  },
  audio: { channelCount: 1, echoCancellation: true, noiseSuppression: false, autoGainControl: false },
};

const WARNINGS = {
  no_face: "We can't see your face. Please stay in front of the camera.",
  multiple_faces: "Someone else seems to be in view. Please make sure you are alone.",
  face_mismatch: "The person in view doesn't match your reference photo.",
  looking_away: "Please keep your eyes on the exam.",
  talking: "Please don't talk during the exam.",
  speech: "Voices were detected. Please keep the room quiet.",
  camera_blocked: "Your camera seems covered or too dark.",
  stream_lost: "Your video connection was interrupted.",
  focus_lost: "Please stay on the exam tab.",
  fullscreen_exit: "Please return to fullscreen.",
  copy_paste: "Copying and pasting is recorded.",
};

const state = {
  stream: null,
  cameraError: null,
  enrolled: false,
  meterStop: null,
};

api.onUnauthorized = () => {
  api.forget();
  toast("Your sign-in has expired. Please sign in again.", { kind: "warn" });
  route();
};

// ---- shell --------------------------------------------------------------------------------

function renderTopbar() {
  const user = api.user;
  clear(
    topbar,
    brand("Exam"),
    user &&
      h(
        "div.userbox",
        h("span.avatar", initials(user.full_name || user.username)),
        h("div.who", h("strong", user.full_name || user.username), h("small", "Candidate")),
        h("button.btn.ghost.sm#logout", { on: { click: logout } }, icon("logout"), "Sign out"),
      ),
  );
}

function logout() {
  stopCamera();
  api.forget();
  route();
}

function route() {
  renderTopbar();
  if (!api.loggedIn) renderAuth();
  else renderHome();
}

// ---- sign in / register -------------------------------------------------------------------

function renderAuth(mode = "login") {
  const error = h("div.notice.bad#auth-error", { hidden: true });
  const fullName = h("input#auth-fullname", { type: "text", autocomplete: "name", placeholder: "Ada Lovelace" });
  const username = h("input#auth-username", { type: "text", autocomplete: "username", required: true, placeholder: "your.name" });
  const password = h("input#auth-password", {
    type: "password",
    autocomplete: mode === "login" ? "current-password" : "new-password",
    required: true,
    placeholder: mode === "login" ? "Your password" : "At least 8 characters",
  });
  const submit = h("button.btn.primary.block#auth-submit", { type: "submit" }, mode === "login" ? "Sign in" : "Create account");
  const form = h(
    "form.stack",
    {
      on: {
        submit: async (event) => {
          event.preventDefault();
          error.hidden = true;
          submit.disabled = true;
          try {
            const user =
              mode === "login"
                ? await api.login(username.value.trim(), password.value)
                : await api.register(username.value.trim(), password.value, fullName.value.trim());
            if (user.role !== "candidate") {
              api.forget();
              throw new ApiError(403, "wrong_page", "This account is for staff: use the proctor console at /proctor.");
            }
            route();
          } catch (e) {
            clear(error, icon("alert"), h("span", e.message));
            error.hidden = false;
          } finally {
            submit.disabled = false;
          }
        },
      },
    },
    mode === "register" && h("div.field", h("label", { for: "auth-fullname" }, "Full name"), fullName),
    h("div.field", h("label", { for: "auth-username" }, "Username"), username),
    h("div.field", h("label", { for: "auth-password" }, "Password"), password),
    error,
    submit,
  );
  const tabs = h(
    "div.seg",
    { role: "tablist" },
    h("button#tab-login", { type: "button", role: "tab", "aria-selected": String(mode === "login"), on: { click: () => renderAuth("login") } }, "Sign in"),
    h("button#tab-register", { type: "button", role: "tab", "aria-selected": String(mode === "register"), on: { click: () => renderAuth("register") } }, "Register"),
  );
  clear(
    app,
    h(
      "div.auth-wrap",
      h(
        "div.card.auth-card",
        h(
          "div.card-body",
          h("div", { style: "margin-bottom:18px" }, tabs),
          h("h1", mode === "login" ? "Welcome back" : "Create your account"),
          h("p.lead", "Your exam is proctored: you will need a webcam and a microphone."),
          form,
        ),
      ),
    ),
  );
  (mode === "register" ? fullName : username).focus();
}

// ---- home: device check, reference photo, exams ---------------------------------------------

async function startCamera() {
  if (state.stream) return state.stream;
  state.cameraError = null;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    state.cameraError = "Your browser cannot use a camera on this page. Open it over https in a recent browser.";
    return null;
  }
  try {
    state.stream = await navigator.mediaDevices.getUserMedia(CAPTURE);
  } catch (error) {
    state.cameraError = cameraMessage(error);
  }
  return state.stream;
}

function cameraMessage(error) {
  switch (error && error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Camera and microphone access is blocked. Allow both for this site (the camera icon in the address bar), then press Try again.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No camera or microphone was found. Connect a webcam with a microphone, then press Try again.";
    case "NotReadableError":
    case "AbortError":
      return "Your camera is busy: another application is using it. Close that application, then press Try again.";
    default:
      return `The camera could not start (${(error && error.message) || error}).`;
  }
}

function stopCamera() {
  if (state.meterStop) state.meterStop();
  state.meterStop = null;
  if (state.stream) for (const track of state.stream.getTracks()) track.stop();
  state.stream = null;
}

function micMeter(stream, bar) {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context || !stream.getAudioTracks().length) return () => {};
  const context = new Context();
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  context.createMediaStreamSource(stream).connect(analyser);
  const data = new Uint8Array(analyser.fftSize);
  let running = true;
  const tick = () => {
    if (!running) return;
    analyser.getByteTimeDomainData(data);
    let peak = 0;
    for (const v of data) peak = Math.max(peak, Math.abs(v - 128));
    bar.style.width = `${Math.min(100, (peak / 64) * 100)}%`;
    requestAnimationFrame(tick);
  };
  context.resume().catch(() => {});
  tick();
  return () => {
    running = false;
    context.close().catch(() => {});
  };
}

function checkItem(id, ok, text) {
  return h(
    `li#${id}`,
    { dataset: { ok: String(ok) } },
    h(`span.check-icon${ok === true ? ".ok" : ok === false ? ".bad" : ""}`, icon(ok === false ? "x" : "check")),
    h("span", text),
  );
}

async function renderHome() {
  const video = h("video.mirror#camera-preview", { autoplay: true, muted: true, playsInline: true });
  const placeholder = h("div.placeholder", "Starting your camera…");
  const status = h("div#camera-status");
  const meter = h("span");
  const checks = h("ul.check-list");
  const photoThumb = h("div.photo-thumb#photo-thumb", "No photo yet");
  const photoStatus = h("div#photo-status.small.muted", "Checking…");
  const photoError = h("div.notice.bad#photo-error", { hidden: true });
  const capture = h("button.btn.primary#capture-photo", { disabled: true, on: { click: () => capturePhoto(video, photoThumb, photoError, refresh) } }, icon("camera"), "Capture reference photo");
  const examList = h("div.exam-list#exam-list", h("div.empty", "Loading your exams…"));

  clear(
    app,
    h(
      "div.page",
      h(
        "div.page-head",
        h("div", h("h1", `Hello, ${(api.user.full_name || api.user.username).split(" ")[0]}`), h("p", "Check your camera, enrol your photo, then start your exam.")),
      ),
      h(
        "div.cols",
        h(
          "div.stack",
          h(
            "div.card",
            h("div.card-head", h("span.exam-icon", icon("book")), h("div", h("h3", "Your exams"), h("p", "Exams you are enrolled in")), h("span.spacer"), h("button.btn.sm#refresh-exams", { on: { click: () => loadExams(examList) } }, icon("refresh"), "Refresh")),
            examList,
          ),
          h(
            "div.card",
            h("div.card-head", h("span.exam-icon", icon("user")), h("div", h("h3", "Reference photo"), h("p", "Used to confirm it is you who takes the exam"))),
            h("div.card-body.stack", h("div.photo-row", photoThumb, h("div.stack.tight", photoStatus, h("div.small.muted", "Face the camera in good light, alone, without a hat or sunglasses."), h("div", capture))), photoError),
          ),
        ),
        h(
          "div.card",
          h("div.card-head", h("span.exam-icon", icon("camera")), h("div", h("h3", "Device check"), h("p", "Camera and microphone"))),
          h(
            "div.card-body.stack",
            h("div.video-frame", video, placeholder),
            h("div.stack.tight", h("div.row.small.muted", icon("mic"), "Microphone level"), h("div.meter", meter)),
            checks,
            status,
          ),
        ),
      ),
    ),
  );
  for (const svg of app.querySelectorAll(".row.small svg")) svg.setAttribute("width", "14");

  function refresh() {
    const cameraOk = Boolean(state.stream) && state.stream.getVideoTracks().length > 0;
    const micOk = Boolean(state.stream) && state.stream.getAudioTracks().length > 0;
    clear(
      checks,
      checkItem("check-camera", state.stream ? cameraOk : state.cameraError ? false : null, "Camera"),
      checkItem("check-mic", state.stream ? micOk : state.cameraError ? false : null, "Microphone"),
      checkItem("check-photo", state.enrolled ? true : null, "Reference photo enrolled"),
    );
    capture.disabled = !cameraOk;
    clear(capture, icon("camera"), state.enrolled ? "Retake photo" : "Capture reference photo");
    capture.className = state.enrolled ? "btn" : "btn primary";
    if (state.enrolled) {
      photoStatus.textContent = "Your reference photo is enrolled.";
      photoStatus.className = "small";
      photoStatus.style.color = "var(--ok-700)";
    } else {
      photoStatus.textContent = "No reference photo yet.";
    }
    for (const button of examList.querySelectorAll("button.start-exam")) {
      button.disabled = !(cameraOk && state.enrolled);
    }
    const hint = examList.querySelector("#start-hint");
    if (hint) hint.hidden = cameraOk && state.enrolled;
  }

  await startCamera();
  if (state.stream) {
    video.srcObject = state.stream;
    placeholder.remove();
    clear(status, h("div.notice.ok", icon("check"), h("span", "Your camera and microphone work. Keep this browser window open during the exam.")));
    if (!state.meterStop) state.meterStop = micMeter(state.stream, meter);
  } else {
    placeholder.textContent = "Camera unavailable";
    clear(
      status,
      h("div.notice.bad#camera-error", icon("alert"), h("div.stack.tight", h("span", state.cameraError), h("div", h("button.btn.sm", { on: { click: () => renderHome() } }, icon("refresh"), "Try again")))),
    );
  }
  try {
    await api.get("/api/me/reference-photo");
    state.enrolled = true;
    photoThumb.textContent = "Enrolled ✓";
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
    state.enrolled = false;
  }
  refresh();
  await loadExams(examList);
  refresh();
}

async function capturePhoto(video, thumb, errorBox, refresh) {
  errorBox.hidden = true;
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth || 640;
  canvas.height = video.videoHeight || 480;
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.92));
  clear(thumb, h("img", { src: URL.createObjectURL(blob), alt: "Your reference photo" }));
  const button = document.getElementById("capture-photo");
  button.disabled = true;
  document.getElementById("photo-status").textContent = "Checking your photo…";
  try {
    await api.request("PUT", "/api/me/reference-photo", { body: blob, headers: { "Content-Type": "image/jpeg" } });
    state.enrolled = true;
    toast("Your reference photo is enrolled.", { kind: "ok", title: "Photo saved" });
  } catch (error) {
    state.enrolled = false;
    clear(errorBox, icon("alert"), h("span", `This photo was not accepted: ${error.message} Please try again.`));
    errorBox.hidden = false;
    clear(thumb, "No photo yet");
  } finally {
    button.disabled = false;
    refresh();
  }
}

async function loadExams(list) {
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
  const ready = Boolean(state.stream) && state.enrolled;
  clear(
    list,
    h("div.notice.info#start-hint", { hidden: ready, style: "margin:12px 20px 0" }, icon("info"), h("span", "Allow your camera and enrol your reference photo to start an exam.")),
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

function fmtScore(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
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

function enterFullscreen() {
  const root = document.documentElement;
  if (!document.fullscreenElement && root.requestFullscreen) root.requestFullscreen().catch(() => {});
}

// ---- the exam -------------------------------------------------------------------------------

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

class ExamView {
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
    clear(
      app,
      h(
        "div.page#exam-view",
        { dataset: { sessionId: String(this.session.session_id) } },
        this.banner,
        h("div.page-head", h("div", h("h1", exam.title), h("p", exam.description || `${exam.questions.length} questions · answers are saved as you type`))),
        h(
          "div.exam-layout",
          h("div.card", questions.length ? questions : h("div.empty", "This exam has no questions.")),
          h(
            "aside.exam-side",
            h("div.card.card-body.stack", h("div.row", h("span.section-title", "Time left"), h("span.spacer"), this.connection), this.countdown, h("div.progress", this.progressBar), this.progressText, this.saveState, submit),
            h("div.card.card-body.stack.tight", h("div.row", h("span.section-title", "Your camera"), h("span.spacer"), h("span.small.muted", "Monitored")), h("div.video-frame", selfView)),
            h("div.small.muted", { style: "padding:0 4px" }, "Stay in view, alone, on this tab. Warnings appear in the corner; they are also seen by your proctor."),
          ),
        ),
      ),
    );
    this.updateProgress();
    this.link = new ExamLink(api, this.session.session_id, this.stream, {
      onState: (s) => this.onLinkState(s),
      onMessage: (m) => this.onServerMessage(m),
      onEnded: () => this.onEndedRemotely(),
    });
    this.link.start();
    this.stopEvents = watchPageEvents(this.link);
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

  onLinkState(linkState) {
    const labels = { connecting: ["Connecting", "warn"], connected: ["Connected", "ok"], reconnecting: ["Reconnecting", "warn"], waiting: ["Waiting for the server", "warn"], ended: ["Ended", ""] };
    const [label, cls] = labels[linkState] || [linkState, ""];
    this.connection.className = `badge${cls ? " " + cls : ""}`;
    this.connection.dataset.state = linkState;
    clear(this.connection, h(`span.dot${cls ? "." + cls : ""}`), label);
    if (linkState === "reconnecting") toast("Your connection dropped. Reconnecting…", { kind: "warn", timeout: 4000 });
    if (linkState === "waiting") toast("The proctoring server is busy. Your exam stays open; video resumes in a few seconds.", { kind: "warn", timeout: 8000 });
  }

  onServerMessage(message) {
    if (message.type === "alert" && message.state === "started") {
      toast(WARNINGS[message.kind] || message.message, { kind: message.severity === "high" ? "bad" : "warn", title: "Proctoring notice", timeout: 7000 });
    } else if (message.type === "message") {
      toast(message.text, { kind: "info", title: `Message from ${message.from || "your proctor"}`, timeout: 20000 });
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
      this.renderResult(result, timeUp);
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        this.finish();
        this.renderClosed(error.code === "deadline_passed" ? "The time for this exam is over. Your saved answers count." : "This attempt is already closed.");
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
    this.renderClosed((session && why[session.status]) || "This exam session has ended.");
  }

  renderResult(result, timeUp) {
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
            h("p.muted", this.exam.title),
            hasScore
              ? [h("div.big#score", `${fmtScore(result.score)} / ${fmtScore(result.max_score)}`), h("p.muted", `${Math.round((result.score / (result.max_score || 1)) * 100)}% · open questions are graded later by a person`)]
              : h("p#score-hidden", { style: "margin-top:12px" }, "Your answers were received. Your results will be published by your institution."),
            h("div", { style: "margin-top:20px" }, h("button.btn", { on: { click: () => route() } }, "Back to my exams")),
          ),
        ),
      ),
    );
  }

  renderClosed(text) {
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
}

route();
