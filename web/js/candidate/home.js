// The candidate's home page: the device check, the reference photo card and the exam list.

import { clear, h } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { micMeter, startCamera } from "./camera.js";
import { loadExams } from "./exams.js";
import { api, app, state } from "./page.js";
import { capturePhoto, loadEnrolment, photoGuide } from "./photo.js";

function checkItem(id, ok, text) {
  return h(
    `li#${id}`,
    { dataset: { ok: String(ok) } },
    h(`span.check-icon${ok === true ? ".ok" : ok === false ? ".bad" : ""}`, icon(ok === false ? "x" : "check")),
    h("span", text),
  );
}

export async function renderHome() {
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
            h("div.card-body.stack", h("div.photo-row", photoThumb, h("div.stack.tight", photoStatus, h("div.small.muted", "Face the camera in good light, alone, without a hat or sunglasses."), h("div", capture))), photoGuide(video), photoError),
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
  await loadEnrolment(photoThumb);
  refresh();
  await loadExams(examList);
  refresh();
}
