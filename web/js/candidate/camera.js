// The device check's camera and microphone: start and stop them, explain a refusal, meter the mic.

import { state } from "./page.js";

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

export async function startCamera() {
  if (state.stream) return state.stream;
  state.cameraError = null;
  if (!window.isSecureContext) {
    // Browsers give the camera only to https pages (and to the machine's own localhost).
    const secure = location.href.replace(/^http:/, "https:");
    state.cameraError =
      "This page needs a secure (https) connection: browsers only allow the camera and microphone on https pages. " +
      `Open ${secure} instead, or ask your institution for the exam's https address.`;
    return null;
  }
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

export function stopCamera() {
  if (state.meterStop) state.meterStop();
  state.meterStop = null;
  if (state.stream) for (const track of state.stream.getTracks()) track.stop();
  state.stream = null;
}

export function micMeter(stream, bar) {
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
