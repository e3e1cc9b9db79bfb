// One candidate in full: live video with overlays, the alert timeline, messages, ending the session.

import { clear, h } from "../shared/dom.js";
import { fmtClock } from "../shared/format.js";
import { icon } from "../shared/icons.js";
import { confirmDialog, modal } from "../shared/modal.js";
import { toast } from "../shared/toast.js";
import { timelineItem } from "./alert-review.js";
import { displayName, riskBadge } from "./labels.js";
import { LiveVideo, Overlay } from "./viewer.js";

export class SessionPanel {
  constructor(live, entry) {
    this.live = live;
    this.api = live.api;
    this.entry = entry;
    this.sessionId = entry.session_id;
    this.items = new Map();
    this.build();
    this.video.start();
    this.loadTimeline();
    this.clock = setInterval(() => this.renderHeader(), 1000);
  }

  build() {
    const videoEl = h("video#live-video", { autoplay: true, muted: true, playsInline: true });
    const canvas = h("canvas#overlay");
    this.placeholder = h("div.placeholder#video-state", "Connecting to the live video…");
    this.overlay = new Overlay(canvas, videoEl);
    this.overlay.setAlerts(this.openKinds());
    this.video = new LiveVideo(this.api, this.sessionId, videoEl, (state, detail) => this.onVideoState(state, detail));
    const overlayToggle = h("input#overlay-toggle", { type: "checkbox", checked: true, on: { change: (e) => (this.overlay.enabled = e.target.checked) } });
    this.headerInfo = h("div.row.wrap");
    this.timeline = h("div.timeline#timeline", h("div.empty.small", "Loading alerts…"));
    this.messageInput = h("input#message-text", { type: "text", maxLength: 1000, placeholder: "Write a message to the candidate…" });
    const send = h("button.btn.primary#message-send", { type: "submit" }, icon("send"), "Send");
    const end = h("button.btn.danger#end-session", { on: { click: () => this.endSession() } }, icon("stop"), "End session");
    this.modal = modal({
      title: displayName(this.entry),
      subtitle: `@${this.entry.username} · attempt #${this.sessionId}`,
      wide: true,
      onClose: () => this.destroy(),
      body: [
        h(
          "div.viewer#session-panel",
          { dataset: { sessionId: String(this.sessionId) } },
          h(
            "div.stack",
            this.headerInfo,
            h("div.stage", videoEl, canvas, this.placeholder, h("div.hud", h("label.badge.glass.checkbox", overlayToggle, "Overlays"))),
            h(
              "form.row",
              { on: { submit: (e) => (e.preventDefault(), this.sendMessage(send)) } },
              this.messageInput,
              send,
            ),
            h("div.row", h("span.small.muted", "Face boxes, gaze and alert labels are drawn from the server's analysis (up to 3 frames/s)."), h("span.spacer"), end),
          ),
          h("div.card", h("div.card-head", h("h3", "Alert timeline"), h("span.spacer"), h("span.small.muted#timeline-count")), h("div.card-body", { style: "padding-top:4px;padding-bottom:4px" }, this.timeline)),
        ),
      ],
    });
    this.renderHeader();
  }

  openKinds() {
    return [...new Set(this.entry.open_alerts.map((a) => a.kind))];
  }

  renderHeader() {
    const e = this.entry;
    const left = (Date.parse(e.deadline_at) - Date.now()) / 1000;
    clear(
      this.headerInfo,
      h(`span.badge${e.connected ? ".ok" : ".warn"}#panel-connection`, h(`span.dot${e.connected ? ".ok" : ".warn"}`), e.connected ? "Connected" : "Not connected"),
      h("span.badge", icon("clock"), `${fmtClock(left)} left`),
      h("span.row.small.muted", "Risk", riskBadge(e.risk_score)),
      h("span.small.muted", `${e.alert_count} alert${e.alert_count === 1 ? "" : "s"} so far`),
    );
    for (const svg of this.headerInfo.querySelectorAll(".badge svg")) {
      svg.setAttribute("width", "13");
      svg.setAttribute("height", "13");
    }
  }

  onVideoState(state, detail) {
    if (state === "playing") {
      this.placeholder.hidden = true;
    } else if (state === "failed") {
      this.placeholder.hidden = false;
      clear(this.placeholder, h("div.stack.tight", h("span", detail || "The video is unavailable."), h("div", h("button.btn.sm", { on: { click: () => this.video.start() } }, icon("refresh"), "Retry"))));
    } else if (state === "connecting") {
      this.placeholder.hidden = false;
      clear(this.placeholder, "Connecting to the live video…");
    }
  }

  onAnalysis(message) {
    this.overlay.update(message);
  }

  onSession(entry) {
    this.entry = entry;
    this.overlay.setAlerts(this.openKinds());
    this.renderHeader();
  }

  onAlert(alert) {
    const existing = this.items.get(alert.id);
    const merged = existing ? { ...existing.alert, ...alert } : { ...alert, review_status: "pending", review_note: null };
    this.upsertItem(merged, true);
  }

  onSentMessage(message) {
    toast(`“${message.text}”`, { title: `Message sent by ${message.from}`, kind: "ok", timeout: 3000 });
  }

  onEnded(status) {
    this.video.stop();
    this.placeholder.hidden = false;
    clear(this.placeholder, `This attempt is ${status || "over"}.`);
    this.messageInput.disabled = true;
  }

  async loadTimeline() {
    try {
      const page = await this.api.get(`/alerts?session_id=${this.sessionId}&limit=200`);
      clear(this.timeline);
      for (const alert of page.alerts) this.upsertItem(alert, false);
      this.renderEmpty();
    } catch (error) {
      clear(this.timeline, h("div.error-text", error.message));
    }
  }

  renderEmpty() {
    const count = document.getElementById("timeline-count");
    if (count) count.textContent = `${this.items.size} alert${this.items.size === 1 ? "" : "s"}`;
    if (!this.items.size) clear(this.timeline, h("div.empty.small", icon("check"), h("div", "No alerts for this candidate.")));
  }

  upsertItem(alert, fresh) {
    this.timeline.querySelector(".empty")?.remove();
    const old = this.items.get(alert.id);
    const el = timelineItem(this.api, alert, (saved) => this.upsertItem(saved, false));
    if (old) old.el.replaceWith(el);
    else this.timeline.prepend(el);
    if (fresh && !old) el.classList.add("fresh");
    this.items.set(alert.id, { alert, el });
    this.renderEmpty();
  }

  async sendMessage(button) {
    const text = this.messageInput.value.trim();
    if (!text) return;
    button.disabled = true;
    try {
      await this.api.post(`/api/sessions/${this.sessionId}/message`, { text });
      this.messageInput.value = "";
    } catch (error) {
      toast(error.message, { kind: "bad", title: "Message not sent" });
    } finally {
      button.disabled = false;
    }
  }

  async endSession() {
    const ok = await confirmDialog({
      title: `End ${displayName(this.entry)}'s session?`,
      text: "The attempt closes now and is graded on the answers saved so far. The candidate cannot continue.",
      confirm: "End session",
      danger: true,
    });
    if (!ok) return;
    try {
      await this.api.post(`/api/sessions/${this.sessionId}/terminate`);
      toast(`${displayName(this.entry)}'s session was ended.`, { kind: "ok" });
      await new Promise((resolve) => setTimeout(resolve, 300)); // the toast shows before the panel goes
      this.close();
    } catch (error) {
      toast(error.message, { kind: "bad", title: "Could not end the session" });
    }
  }

  close() {
    this.modal.close();
  }

  destroy() {
    clearInterval(this.clock);
    this.video.stop();
    this.overlay.destroy();
    this.live.panelClosed(this);
  }
}
