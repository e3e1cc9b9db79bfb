// The candidate's live link: camera and microphone to the server over WebRTC, and the
// "proctor" data channel both ways. Reconnects by itself (a new offer) when the connection drops.

import { ApiError } from "../shared/api.js";
import { iceGatheringComplete } from "../shared/ice.js";

const BACKOFF_MS = [1000, 2000, 4000, 8000, 10000];
const DISCONNECTED_GRACE_MS = 3000;
const QUEUE_LIMIT = 50;

export class ExamLink {
  /**
   * handlers: onState(state) with "connecting" | "connected" | "reconnecting" | "waiting"
   *   (the server is full and asked us to retry later) | "ended",
   * onMessage(object) for what the server sends, onEnded(error) when the attempt is closed.
   */
  constructor(api, sessionId, stream, handlers = {}) {
    this.api = api;
    this.sessionId = sessionId;
    this.stream = stream;
    this.handlers = handlers;
    this.pc = null;
    this.channel = null;
    this.queue = [];
    this.attempt = 0;
    this.stopped = false;
    this.retryTimer = null;
    this.graceTimer = null;
    this.state = "idle";
  }

  start() {
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.graceTimer);
    this.teardown();
    this.setState("ended");
  }

  /** Send an object on the data channel; queued (bounded) while reconnecting. */
  send(message) {
    if (this.channel && this.channel.readyState === "open") {
      this.channel.send(JSON.stringify(message));
    } else {
      this.queue.push(message);
      if (this.queue.length > QUEUE_LIMIT) this.queue.shift();
    }
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    if (this.handlers.onState) this.handlers.onState(state);
  }

  teardown() {
    const pc = this.pc;
    this.pc = null;
    this.channel = null;
    if (pc) {
      pc.onconnectionstatechange = null;
      pc.close();
    }
  }

  async connect() {
    if (this.stopped) return;
    this.teardown();
    this.setState(this.attempt === 0 ? "connecting" : "reconnecting");
    // The server's STUN/TURN servers (none unless configured), TURN credentials minted for
    // this candidate, asked again for every connection since they expire.
    const connecting = (this.connecting = {});
    let config;
    try {
      config = await this.api.rtcConfiguration();
    } catch (error) {
      if (this.stopped || connecting !== this.connecting) return;
      if (error instanceof ApiError && error.status === 401) return void this.stop();
      return void this.retry();
    }
    if (this.stopped || connecting !== this.connecting) return;
    const pc = new RTCPeerConnection(config);
    this.pc = pc;
    const channel = pc.createDataChannel("proctor"); // before the offer, so it is negotiated
    this.channel = channel;
    channel.onopen = () => {
      const pending = this.queue.splice(0);
      for (const message of pending) channel.send(JSON.stringify(message));
    };
    channel.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (this.handlers.onMessage) this.handlers.onMessage(message);
    };
    for (const track of this.stream.getTracks()) {
      pc.addTransceiver(track, { direction: "sendonly", streams: [this.stream] });
    }
    pc.onconnectionstatechange = () => this.onConnectionState(pc);
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await iceGatheringComplete(pc);
      if (pc !== this.pc) return;
      const answer = await this.api.post(`/api/sessions/${this.sessionId}/offer`, {
        sdp: pc.localDescription.sdp,
        type: "offer",
      });
      if (pc !== this.pc) return;
      await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
      this.applySettings(pc, answer);
    } catch (error) {
      if (pc !== this.pc) return;
      if (error instanceof ApiError && (error.status === 409 || error.status === 404)) {
        this.stopped = true;
        this.teardown();
        this.setState("ended");
        if (this.handlers.onEnded) this.handlers.onEnded(error);
        return;
      }
      if (error instanceof ApiError && error.status === 401) {
        this.stop();
        return;
      }
      if (error instanceof ApiError && error.status === 503) {
        // The server is full: it asks us to come back later rather than overload it.
        this.retry("waiting", 1000 * (error.details.retry_after || 15));
        return;
      }
      this.retry();
    }
  }

  applySettings(pc, answer) {
    // What the server asks for: resolution, frame rate and bitrate (best effort).
    const video = this.stream.getVideoTracks()[0];
    if (video && answer.constraints && answer.constraints.video) {
      const { width, height, frameRate } = answer.constraints.video;
      video.applyConstraints({ width, height, frameRate }).catch(() => {});
    }
    for (const sender of pc.getSenders()) {
      const wanted = sender.track && answer.sender && answer.sender[sender.track.kind];
      if (!wanted) continue;
      const params = sender.getParameters();
      if (!params.encodings || !params.encodings.length) continue;
      Object.assign(params.encodings[0], wanted);
      sender.setParameters(params).catch(() => {});
    }
  }

  onConnectionState(pc) {
    if (pc !== this.pc || this.stopped) return;
    const state = pc.connectionState;
    if (state === "connected") {
      this.attempt = 0;
      clearTimeout(this.graceTimer);
      this.setState("connected");
    } else if (state === "disconnected") {
      // Often recovers by itself within a second or two; if not, start over.
      clearTimeout(this.graceTimer);
      this.setState("reconnecting");
      this.graceTimer = setTimeout(() => {
        if (pc === this.pc && pc.connectionState !== "connected") this.retry();
      }, DISCONNECTED_GRACE_MS);
    } else if (state === "failed" || state === "closed") {
      this.retry();
    }
  }

  retry(state = "reconnecting", delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)]) {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.teardown();
    this.setState(state);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}

/** Report the browser events the server turns into alerts (focus, fullscreen, clipboard). */
export function watchPageEvents(link) {
  let focusLost = false;
  const updateFocus = () => {
    const lost = document.hidden || !document.hasFocus();
    if (lost === focusLost) return;
    focusLost = lost;
    link.send({ type: "focus", state: lost ? "lost" : "back" });
  };
  const onFullscreen = () => {
    link.send({ type: "fullscreen", state: document.fullscreenElement ? "entered" : "exited" });
  };
  const clipboard = (event) => link.send({ type: "clipboard", action: event.type });
  const listeners = [
    [document, "visibilitychange", updateFocus],
    [window, "blur", updateFocus],
    [window, "focus", updateFocus],
    [document, "fullscreenchange", onFullscreen],
    [document, "copy", clipboard],
    [document, "cut", clipboard],
    [document, "paste", clipboard],
  ];
  for (const [target, type, fn] of listeners) target.addEventListener(type, fn);
  return () => {
    for (const [target, type, fn] of listeners) target.removeEventListener(type, fn);
  };
}
