// An attempt's recording: camera and screen side by side, the alerts as markers on the seek
// bar (a click plays from a few seconds before the alert started), 1-8x, and each alert's
// review (confirm or dismiss, with a note) next to the picture.

import { clear, h } from "../shared/dom.js";
import { fmtClock } from "../shared/format.js";
import { icon } from "../shared/icons.js";
import { modal } from "../shared/modal.js";
import { kindColor, kindLabel } from "../shared/vocabulary.js";
import { timelineItem } from "./alert-review.js";
import { displayName } from "./labels.js";

const LEAD_SECONDS = 3; // a marker plays from this long before the alert started
const SPEEDS = [1, 2, 4, 8];
const DRIFT_SECONDS = 0.3; // the screen is pulled back in step beyond this

/** Seconds between two ISO instants. */
function secondsBetween(later, earlier) {
  return (Date.parse(later) - Date.parse(earlier)) / 1000;
}

export class RecordingPlayer {
  /** `startAt`: an alert id to play from (a few seconds before it started). */
  constructor(api, entry, onReviewed, startAt = null) {
    this.api = api;
    this.startAt = startAt;
    this.entry = entry;
    this.onReviewed = onReviewed;
    this.sessionId = entry.session_id;
    this.body = h("div.player#player", { dataset: { sessionId: String(this.sessionId) } }, h("div.empty.small", "Loading the recording…"));
    this.modal = modal({ title: displayName(this.entry), subtitle: `@${this.entry.username} · attempt #${this.sessionId} · recording`, wide: true, body: [this.body], onClose: () => this.destroy() });
    this.load();
  }

  async load() {
    let recording;
    let alerts;
    try {
      [recording, alerts] = await Promise.all([
        this.api.get(`/api/sessions/${this.sessionId}/recording`),
        this.api.get(`/alerts?session_id=${this.sessionId}&limit=500`),
      ]);
    } catch (error) {
      clear(this.body, h("div.notice.bad", icon("alert"), h("span", error.message)));
      return;
    }
    this.alerts = alerts.alerts.slice().sort((a, b) => a.started_at.localeCompare(b.started_at));
    const tracks = Object.fromEntries(recording.tracks.map((t) => [t.track, t]));
    this.camera = tracks.camera;
    this.screen = tracks.screen;
    if (!this.camera || !this.camera.url) {
      const text = this.camera ? "The recording is still being prepared: open it again in a moment." : "This attempt was not recorded.";
      clear(this.body, h("div.notice.info#player-empty", icon("info"), h("span", text)));
      return;
    }
    this.build();
  }

  build() {
    this.video = h("video#review-camera", { src: this.camera.url, preload: "metadata", playsInline: true });
    this.screenVideo = this.screen?.url ? h("video#review-screen", { src: this.screen.url, preload: "metadata", muted: true, playsInline: true }) : null;
    this.seek = h("input#review-seek", { type: "range", min: 0, max: 1000, value: 0, step: "any", "aria-label": "Position" });
    this.markers = h("div.markers");
    this.clock = h("span.small.mono#review-clock", "00:00 / 00:00");
    this.play = h("button.btn.sm#review-play", { on: { click: () => (this.video.paused ? this.video.play() : this.video.pause()) } }, icon("play"), "Play");
    const speed = h(
      "select#review-speed",
      { "aria-label": "Speed", on: { change: (e) => this.setRate(Number(e.target.value)) } },
      SPEEDS.map((rate) => h("option", { value: String(rate) }, `${rate}x`)),
    );
    this.list = h("div.timeline#review-alerts");
    clear(
      this.body,
      h(
        "div.stack",
        h(
          "div.review-stages",
          h("div.stage", this.video, h("div.hud", h("span.badge.glass", "Camera"))),
          this.screenVideo ? h("div.stage", this.screenVideo, h("div.hud", h("span.badge.glass", "Screen"))) : h("div.stage.placeholder-stage", h("div.placeholder", "No screen recording")),
        ),
        h("div.seek", this.seek, this.markers),
        h("div.row", this.play, speed, this.clock, h("span.spacer"), h("span.small.muted", `${this.alerts.length} alert${this.alerts.length === 1 ? "" : "s"}: click one to play from ${LEAD_SECONDS} s before it`)),
      ),
      h("div.card", h("div.card-head", h("h3", "Alerts")), h("div.card-body", { style: "padding-top:4px;padding-bottom:4px" }, this.list)),
    );
    this.video.addEventListener("loadedmetadata", () => this.onMetadata());
    this.video.addEventListener("timeupdate", () => this.onTime());
    this.video.addEventListener("play", () => (clear(this.play, icon("pause"), "Pause"), this.syncScreen(true)));
    this.video.addEventListener("pause", () => (clear(this.play, icon("play"), "Play"), this.screenVideo?.pause()));
    this.video.addEventListener("seeked", () => this.syncScreen(false));
    this.video.addEventListener("error", () => this.onError());
    this.seek.addEventListener("input", () => this.seekTo((Number(this.seek.value) / 1000) * this.duration()));
    this.renderAlerts();
  }

  duration() {
    const known = this.video.duration;
    return Number.isFinite(known) && known > 0 ? known : this.camera.duration_s || 0;
  }

  /** Where an alert sits in the camera recording, in seconds. */
  offsetOf(alert) {
    return secondsBetween(alert.started_at, this.camera.started_at);
  }

  onMetadata() {
    this.body.dataset.duration = String(this.video.duration);
    const first = this.alerts.find((a) => a.id === this.startAt);
    if (first) this.jumpTo(first);
    clear(
      this.markers,
      this.alerts.map((alert) => {
        const at = this.offsetOf(alert);
        const left = Math.min(100, Math.max(0, (at / this.duration()) * 100));
        return h("button.marker", {
          title: `${kindLabel(alert.kind)} at ${fmtClock(at)}`,
          style: `left:${left}%;background:${kindColor(alert.kind)}`,
          dataset: { alertId: String(alert.id), kind: alert.kind, at: String(at) },
          on: { click: () => this.jumpTo(alert) },
        });
      }),
    );
    this.onTime();
  }

  onTime() {
    const now = this.video.currentTime;
    this.body.dataset.time = String(now);
    if (document.activeElement !== this.seek) this.seek.value = String((now / (this.duration() || 1)) * 1000);
    this.clock.textContent = `${fmtClock(now)} / ${fmtClock(this.duration())}`;
    if (this.screenVideo && !this.video.paused && Math.abs(this.screenVideo.currentTime - this.screenTime(now)) > DRIFT_SECONDS) this.syncScreen(false);
  }

  /** The screen recording's time at the camera's `t` (each has its own time 0). */
  screenTime(t) {
    return t + secondsBetween(this.camera.started_at, this.screen.started_at);
  }

  syncScreen(play) {
    if (!this.screenVideo) return;
    this.screenVideo.currentTime = Math.max(0, this.screenTime(this.video.currentTime));
    this.screenVideo.playbackRate = this.video.playbackRate;
    if (play || !this.video.paused) this.screenVideo.play().catch(() => {});
  }

  seekTo(seconds) {
    this.video.currentTime = Math.max(0, Math.min(seconds, this.duration()));
  }

  jumpTo(alert) {
    this.seekTo(this.offsetOf(alert) - LEAD_SECONDS);
    for (const item of this.list.querySelectorAll(".timeline-item")) item.classList.toggle("current", item.dataset.alertId === String(alert.id));
  }

  setRate(rate) {
    this.video.playbackRate = rate;
    if (this.screenVideo) this.screenVideo.playbackRate = rate;
    this.body.dataset.rate = String(rate);
  }

  async onError() {
    // The recording pass (cookie) expired: asking for the details again renews it.
    const at = this.video.currentTime;
    try {
      await this.api.get(`/api/sessions/${this.sessionId}/recording`);
      this.video.load();
      this.video.currentTime = at;
    } catch {
      /* the notice below stays */
    }
  }

  renderAlerts() {
    if (!this.alerts.length) {
      clear(this.list, h("div.empty.small", "No alerts in this attempt."));
      return;
    }
    clear(
      this.list,
      this.alerts.map((alert) => {
        const item = timelineItem(this.api, alert, (saved) => {
          this.alerts = this.alerts.map((a) => (a.id === saved.id ? saved : a));
          this.renderAlerts();
          if (this.onReviewed) this.onReviewed(saved);
        });
        const jump = h("button.btn.ghost.sm.review-jump", { on: { click: () => this.jumpTo(alert) } }, icon("play"), `Play from ${fmtClock(Math.max(0, this.offsetOf(alert) - LEAD_SECONDS))}`);
        item.querySelector(".head").append(h("span.spacer"), jump);
        return item;
      }),
    );
  }

  destroy() {
    for (const video of [this.video, this.screenVideo]) {
      if (!video) continue;
      video.pause();
      video.removeAttribute("src");
      video.load();
    }
  }
}
