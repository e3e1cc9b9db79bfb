// Reference photo enrolment: whether one is on file, and capturing a new one from the camera.

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

export async function capturePhoto(video, thumb, errorBox, refresh) {
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
