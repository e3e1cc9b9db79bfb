// Reference photo enrolment: whether one is on file, live guidance towards a good one (the
// server measures a frame a second with the same gates enrolment applies), and capturing it.

import { ApiError } from "../shared/api.js";
import { clear, h } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { toast } from "../shared/toast.js";
import { api, state } from "./page.js";

/** Ask the server whether a reference photo is enrolled; mark `thumb` when one is. */
export async function loadEnrolment(thumb) {
  try {
    await api.get("/api/me/reference-photo");
    state.enrolled = true;
    thumb.textContent = "Enrolled ✓";
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
    state.enrolled = false;
  }
}

function frameJpeg(video, quality) {
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth || 640;
  canvas.height = video.videoHeight || 480;
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
}

// What the guide shows: each item fails on the server's refusal codes that concern it.
const GUIDE = [
  { id: "size", label: "Close enough", codes: ["face_too_small", "face_cut"], figure: (r) => `face ${Math.round(r.width_px)} px wide` },
  { id: "frontal", label: "Facing the camera", codes: ["face_turned"], figure: (r) => (r.yaw === null ? "" : `turned ${Math.abs(Math.round(r.yaw))}°`) },
  { id: "light", label: "Well lit", codes: ["face_too_dark", "face_too_bright", "face_noisy"], figure: (r) => `brightness ${Math.round(r.brightness)} of 255` },
  { id: "sharp", label: "Sharp", codes: ["face_blurred"], figure: () => "" },
];
const CHECK_EVERY_MS = 1000;

/** Live guidance towards a usable photo while `video` is on the page: a list of the checks
 * enrolment applies, each with its figure, and what to do about the first that fails. */
export function photoGuide(video) {
  const items = GUIDE.map((item) => h(`li#guide-${item.id}`, { dataset: { ok: "null" } }, h("span.check-icon", icon("check")), h("span", item.label), h("span.small.muted")));
  const advice = h("div.small#photo-advice", "Looking for your face…");
  const guide = h("div.stack.tight#photo-guide", h("ul.check-list", ...items), advice);

  function show(result) {
    for (const [index, item] of GUIDE.entries()) {
      const row = items[index];
      const measured = result.width_px !== null;
      const ok = measured ? !item.codes.some((code) => result.failed.includes(code)) : null;
      row.dataset.ok = String(ok);
      row.firstChild.className = ok === true ? "check-icon ok" : ok === false ? "check-icon bad" : "check-icon";
      clear(row.firstChild, icon(ok === false ? "x" : "check"));
      row.lastChild.textContent = measured ? item.figure(result) : "";
    }
    advice.textContent = result.usable ? "Ready: hold still and capture your photo." : result.message;
  }

  (async () => {
    while (!guide.isConnected) await new Promise((resolve) => setTimeout(resolve, 100));
    while (guide.isConnected) {
      if (!document.hidden && video.videoWidth) {
        try {
          const body = await frameJpeg(video, 0.85);
          show(await api.request("POST", "/api/me/reference-photo/check", { body, headers: { "Content-Type": "image/jpeg" } }));
        } catch {
          // A failed check leaves the last advice up; the next one tries again.
        }
      }
      await new Promise((resolve) => setTimeout(resolve, CHECK_EVERY_MS));
    }
  })();
  return guide;
}

export async function capturePhoto(video, thumb, errorBox, refresh) {
  errorBox.hidden = true;
  const blob = await frameJpeg(video, 0.92);
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
