// One candidate in full live video (receive-only WebRTC), with overlays drawn in the browser
// from the `analysis` messages of the console's WebSocket: nothing is burned into the video.

import { iceGatheringComplete } from "../shared/ice.js";
import { kindLabel } from "../shared/vocabulary.js";

export class LiveVideo {
  /** onState(state, detail): "connecting" | "playing" | "failed" | "closed". */
  constructor(api, sessionId, video, onState = () => {}) {
    this.api = api;
    this.sessionId = sessionId;
    this.video = video;
    this.onState = onState;
    this.pc = null;
    this.closed = false;
  }

  async start() {
    this.stop();
    this.closed = false;
    this.onState("connecting");
    let config;
    try {
      config = await this.api.rtcConfiguration(); // the server's STUN/TURN, minted credentials
    } catch (error) {
      this.onState("failed", error.message);
      return;
    }
    if (this.closed) return;
    const pc = new RTCPeerConnection(config);
    this.pc = pc;
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.ontrack = (event) => {
      this.video.srcObject = new MediaStream([event.track]);
      this.video.play().catch(() => {});
    };
    this.video.onplaying = () => this.onState("playing");
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      if (pc.connectionState === "failed") this.onState("failed", "The video connection failed.");
      if (pc.connectionState === "closed") this.onState("closed");
    };
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await iceGatheringComplete(pc);
      const answer = await this.api.post(`/api/sessions/${this.sessionId}/watch`, {
        sdp: pc.localDescription.sdp,
        type: "offer",
      });
      if (pc !== this.pc) return;
      await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    } catch (error) {
      if (pc === this.pc) this.onState("failed", error.message);
    }
  }

  stop() {
    this.closed = true;
    if (this.pc) {
      this.pc.onconnectionstatechange = null;
      this.pc.close();
      this.pc = null;
    }
    if (this.video.srcObject) this.video.srcObject = null;
  }
}

const STALE_MS = 2500;

export class Overlay {
  /** Draws over `video` (object-fit: contain) on `canvas`; reads data attributes in tests. */
  constructor(canvas, video) {
    this.canvas = canvas;
    this.video = video;
    this.analysis = null;
    this.receivedAt = 0;
    this.alertKinds = [];
    this.enabled = true;
    this.updates = 0;
    this.frame = requestAnimationFrame(() => this.loop());
    this.canvas.dataset.faces = "0";
    this.canvas.dataset.labels = "";
    this.canvas.dataset.updates = "0";
  }

  update(analysis) {
    this.analysis = analysis;
    this.receivedAt = performance.now();
    this.updates += 1;
    this.canvas.dataset.faces = String(analysis.faces.length);
    this.canvas.dataset.updates = String(this.updates);
    this.canvas.dataset.labels = this.labels().join(",");
  }

  setAlerts(kinds) {
    this.alertKinds = kinds;
    this.canvas.dataset.labels = this.labels().join(",");
  }

  labels() {
    const active = (this.analysis && this.analysis.active) || [];
    return [...new Set([...active, ...this.alertKinds])];
  }

  destroy() {
    cancelAnimationFrame(this.frame);
  }

  loop() {
    this.draw();
    this.frame = requestAnimationFrame(() => this.loop());
  }

  contentRect(width, height) {
    const vw = this.video.videoWidth || 640;
    const vh = this.video.videoHeight || 480;
    const scale = Math.min(width / vw, height / vh);
    const w = vw * scale;
    const hgt = vh * scale;
    return { x: (width - w) / 2, y: (height - hgt) / 2, w, h: hgt };
  }

  draw() {
    const canvas = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(height * dpr);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    if (!this.enabled) return;
    const rect = this.contentRect(width, height);
    const analysis = this.analysis;
    const stale = !analysis || performance.now() - this.receivedAt > STALE_MS;
    const labels = this.labels();
    ctx.globalAlpha = stale ? 0.35 : 1;
    if (analysis) {
      const many = analysis.faces.length > 1;
      const alerting = labels.length > 0;
      for (const face of analysis.faces) {
        const x = rect.x + face.x * rect.w;
        const y = rect.y + face.y * rect.h;
        const w = face.width * rect.w;
        const hgt = face.height * rect.h;
        const color = many ? "#f04438" : alerting ? "#f79009" : "#12b76a";
        corners(ctx, x, y, w, hgt, color);
        pill(ctx, x, y - 22, `Face ${Math.round(face.score * 100)}%`, color);
      }
      if (analysis.faces.length === 1) this.drawGaze(ctx, rect, analysis);
    }
    ctx.globalAlpha = 1;
    let top = rect.y + 12;
    for (const kind of labels) {
      pill(ctx, rect.x + 12, top, kindLabel(kind), "#f04438", true);
      top += 28;
    }
    const status = analysis ? (stale ? "analysis paused" : this.poseText(analysis)) : "waiting for analysis";
    pill(ctx, rect.x + 12, rect.y + rect.h - 34, status, "rgba(16,24,40,.7)");
  }

  poseText(analysis) {
    const parts = [`${analysis.faces.length} face${analysis.faces.length === 1 ? "" : "s"}`];
    if (analysis.yaw !== null && analysis.yaw !== undefined) parts.push(`yaw ${Math.round(analysis.yaw)}°`);
    if (analysis.pitch !== null && analysis.pitch !== undefined) parts.push(`pitch ${Math.round(analysis.pitch)}°`);
    return parts.join(" · ");
  }

  drawGaze(ctx, rect, analysis) {
    const face = analysis.faces[0];
    const cx = rect.x + (face.x + face.width / 2) * rect.w;
    const cy = rect.y + (face.y + face.height * 0.42) * rect.h;
    const gx = analysis.gaze ? analysis.gaze[0] : 0;
    const gy = analysis.gaze ? analysis.gaze[1] : 0;
    let dx = gx + (analysis.yaw || 0) / 30;
    let dy = gy * 0.5 + (analysis.pitch || 0) / 30;
    const magnitude = Math.hypot(dx, dy);
    if (magnitude > 1) {
      dx /= magnitude;
      dy /= magnitude;
    }
    const length = face.width * rect.w * 0.9;
    const ex = cx + dx * length;
    const ey = cy + dy * length;
    ctx.strokeStyle = "#38bdf8";
    ctx.fillStyle = "#38bdf8";
    ctx.lineWidth = 3;
    ctx.beginPath();
    ctx.arc(cx, cy, 4, 0, Math.PI * 2);
    ctx.fill();
    if (Math.hypot(ex - cx, ey - cy) < 6) return;
    ctx.beginPath();
    ctx.moveTo(cx, cy);
    ctx.lineTo(ex, ey);
    ctx.stroke();
    const angle = Math.atan2(ey - cy, ex - cx);
    ctx.beginPath();
    ctx.moveTo(ex, ey);
    ctx.lineTo(ex - 10 * Math.cos(angle - 0.45), ey - 10 * Math.sin(angle - 0.45));
    ctx.lineTo(ex - 10 * Math.cos(angle + 0.45), ey - 10 * Math.sin(angle + 0.45));
    ctx.closePath();
    ctx.fill();
  }
}

function corners(ctx, x, y, w, h, color) {
  const c = Math.min(w, h) * 0.22;
  ctx.strokeStyle = color;
  ctx.lineWidth = 3;
  ctx.beginPath();
  for (const [px, py, sx, sy] of [[x, y, 1, 1], [x + w, y, -1, 1], [x, y + h, 1, -1], [x + w, y + h, -1, -1]]) {
    ctx.moveTo(px + sx * c, py);
    ctx.lineTo(px, py);
    ctx.lineTo(px, py + sy * c);
  }
  ctx.stroke();
  ctx.lineWidth = 1;
  ctx.globalAlpha *= 0.5;
  ctx.strokeRect(x, y, w, h);
  ctx.globalAlpha /= 0.5;
}

function pill(ctx, x, y, text, color, bold = false) {
  ctx.font = `${bold ? 700 : 600} 12px Inter, "Segoe UI", system-ui, sans-serif`;
  const w = ctx.measureText(text).width + 16;
  ctx.fillStyle = color;
  roundRect(ctx, x, y, w, 22, 6);
  ctx.fill();
  ctx.fillStyle = "#fff";
  ctx.fillText(text, x + 8, y + 15);
}

function roundRect(ctx, x, y, w, h, r) {
  ctx.beginPath();
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}
