// The live tab of the proctor console: the exam's WebSocket, a grid of live thumbnails with
// status and risk, the alert feed, and one candidate in full video with overlays, timeline,
// review, messages and ending the session.

import { LiveVideo, Overlay } from "./viewer.js";
import { clear, h } from "../shared/dom.js";
import { fmtClock, fmtDuration, fmtTime, initials } from "../shared/format.js";
import { icon } from "../shared/icons.js";
import { confirmDialog, modal } from "../shared/modal.js";
import { toast } from "../shared/toast.js";
import { alertDuration, displayName, kindColor, kindLabel, riskBadge, severityBadge } from "./labels.js";

const THUMBNAIL_EVERY_MS = 2000;
const FEED_LIMIT = 60;
const evidenceUrls = new Map(); // alert id -> object URL, fetched once

/** An alert's evidence snapshot as an <img> (fetched with the bearer token). */
export function evidenceImage(api, alert, onOpen) {
  const img = h("img.evidence", { alt: `Evidence: ${kindLabel(alert.kind)}`, title: "Click to enlarge" });
  const load = async () => {
    let url = evidenceUrls.get(alert.id);
    if (!url) {
      const blob = await api.blob(`/api/alerts/${alert.id}/evidence`).catch(() => null);
      if (!blob) {
        img.replaceWith(h("div.small.muted", "No snapshot"));
        return;
      }
      url = URL.createObjectURL(blob);
      evidenceUrls.set(alert.id, url);
    }
    img.src = url;
  };
  img.addEventListener("click", () => {
    if (!img.src) return;
    modal({ title: kindLabel(alert.kind), subtitle: `${fmtTime(alert.started_at)} · ${alert.message}`, wide: false, body: [h("img.lightbox", { src: img.src, alt: "Evidence" })] }).el.style.width = "min(760px, 100%)";
    if (onOpen) onOpen();
  });
  load();
  return img;
}

export class LiveExam {
  constructor(api, exam, root) {
    this.api = api;
    this.exam = exam;
    this.root = root;
    this.sessions = new Map();
    this.tiles = new Map();
    this.feedItems = new Map();
    this.ws = null;
    this.closed = false;
    this.retry = 0;
    this.panel = null;
    this.thumbTimer = null;
    this.thumbUrls = new Map();
  }

  // ---- lifecycle ----------------------------------------------------------------------

  mount() {
    this.wsPill = h("span.live-pill#ws-status", h("span.dot"), "Connecting…");
    this.stats = h("div.stats");
    this.grid = h("div.tiles#tiles");
    this.feed = h("div.feed#alert-feed");
    this.emptyGrid = h("div.card.empty#no-sessions", icon("users"), h("div", "No candidate is taking this exam right now."), h("div.small", "Attempts appear here live as soon as they start."));
    clear(
      this.root,
      this.stats,
      h(
        "div.cols",
        h("div.stack", h("div.row", h("h3", "Candidates"), h("span.spacer"), this.wsPill), this.emptyGrid, this.grid),
        h("div.card", h("div.card-head", h("h3", "Live alerts"), h("span.spacer"), h("span.small.muted", "newest first")), this.feed),
      ),
    );
    this.renderStats();
    this.loadRecentAlerts();
    this.connect();
    this.thumbTimer = setInterval(() => this.refreshThumbnails(), THUMBNAIL_EVERY_MS);
  }

  unmount() {
    this.closed = true;
    clearInterval(this.thumbTimer);
    if (this.ws) this.ws.close();
    if (this.panel) this.panel.close();
    for (const url of this.thumbUrls.values()) URL.revokeObjectURL(url);
  }

  connect() {
    if (this.closed) return;
    const url = `${location.origin.replace(/^http/, "ws")}/api/exams/${this.exam.id}/live?token=${encodeURIComponent(this.api.token)}`;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => {
      this.retry = 0;
      this.setWsState(true);
      if (this.panel) this.focus(this.panel.sessionId);
    };
    ws.onmessage = (event) => this.onMessage(JSON.parse(event.data));
    ws.onclose = (event) => {
      if (ws !== this.ws) return;
      this.setWsState(false);
      if (this.closed) return;
      // 4000 + HTTP status: the server re-checked the sign-in and found it no longer valid.
      if (event.code === 4401) return void this.api.get("/api/me").catch(() => {});
      if (event.code === 4403 || event.code === 4404) {
        toast("You no longer have access to this exam.", { title: "Live view closed" });
        return;
      }
      if (this.retry >= 2) this.api.get("/api/me").catch(() => {}); // an expired sign-in ends here
      const delay = Math.min(10000, 1000 * 2 ** this.retry++);
      setTimeout(() => this.connect(), delay);
    };
  }

  setWsState(on) {
    this.wsPill.className = `live-pill${on ? " on" : ""}`;
    this.wsPill.dataset.state = on ? "live" : "offline";
    clear(this.wsPill, h("span.dot"), on ? "Live" : "Reconnecting…");
  }

  focus(sessionId) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ type: "focus", session_id: sessionId }));
    }
  }

  // ---- messages -----------------------------------------------------------------------

  onMessage(message) {
    switch (message.type) {
      case "snapshot": {
        const seen = new Set(message.sessions.map((s) => s.session_id));
        for (const id of [...this.sessions.keys()]) if (!seen.has(id)) this.removeSession(id);
        for (const entry of message.sessions) this.upsertSession(entry);
        break;
      }
      case "session":
        if (message.session.status === "active") this.upsertSession(message.session, message.event);
        else this.removeSession(message.session.session_id, message.session.status);
        break;
      case "alert":
        this.onAlert(message);
        break;
      case "analysis":
        if (this.panel && this.panel.sessionId === message.session_id) this.panel.onAnalysis(message);
        break;
      case "message":
        if (this.panel && this.panel.sessionId === message.session_id) this.panel.onSentMessage(message);
        break;
      default:
        break;
    }
    this.renderStats();
  }

  upsertSession(entry, event) {
    const isNew = !this.sessions.has(entry.session_id);
    this.sessions.set(entry.session_id, entry);
    let tile = this.tiles.get(entry.session_id);
    if (!tile) {
      tile = this.makeTile(entry);
      this.tiles.set(entry.session_id, tile);
      this.grid.append(tile.el);
    }
    this.updateTile(tile, entry);
    this.emptyGrid.hidden = this.sessions.size > 0;
    if (isNew && event === "started") toast(`${displayName(entry)} started the exam.`, { title: "Candidate joined", timeout: 4000 });
    if (this.panel && this.panel.sessionId === entry.session_id) this.panel.onSession(entry);
  }

  removeSession(sessionId, status) {
    const tile = this.tiles.get(sessionId);
    if (tile) tile.el.remove();
    this.tiles.delete(sessionId);
    const entry = this.sessions.get(sessionId);
    this.sessions.delete(sessionId);
    this.emptyGrid.hidden = this.sessions.size > 0;
    if (this.panel && this.panel.sessionId === sessionId) this.panel.onEnded(status);
    if (entry && status) toast(`${displayName(entry)}: attempt ${status}.`, { timeout: 4000 });
  }

  onAlert(alert) {
    const entry = this.sessions.get(alert.session_id);
    if (entry) {
      const open = entry.open_alerts.filter((a) => a.id !== alert.id);
      if (alert.state !== "ended") open.push({ ...alert, review_status: "pending" });
      entry.open_alerts = open;
      this.updateTile(this.tiles.get(alert.session_id), entry);
    }
    this.addFeedItem(alert, true);
    if (this.panel && this.panel.sessionId === alert.session_id) this.panel.onAlert(alert);
  }

  async loadRecentAlerts() {
    try {
      const page = await this.api.get(`/alerts?exam_id=${this.exam.id}&limit=25`);
      for (const alert of page.alerts.reverse()) this.addFeedItem(alert, false);
    } catch {
      // the live feed still works
    }
    this.renderFeedEmpty();
  }

  renderFeedEmpty() {
    if (!this.feedItems.size && !this.feed.querySelector(".empty")) {
      this.feed.append(h("div.empty.small", icon("check"), h("div", "No alerts so far.")));
    }
  }

  addFeedItem(alert, fresh) {
    this.feed.querySelector(".empty")?.remove();
    const existing = this.feedItems.get(alert.incident_id);
    const entry = this.sessions.get(alert.session_id);
    const who = entry ? displayName(entry) : `Session ${alert.session_id}`;
    const ended = alert.state === "ended";
    const detail = ended ? `ended after ${fmtDuration(alertDuration(alert))}` : alert.message;
    const el = h(
      `div.feed-item${fresh && !existing ? ".fresh" : ""}`,
      { dataset: { alertId: String(alert.id), kind: alert.kind, sessionId: String(alert.session_id), state: alert.state }, on: { click: () => this.openSession(alert.session_id) } },
      h("span.bar", { style: `background:${kindColor(alert.kind)}` }),
      h(
        "div",
        { style: "min-width:0;flex:1" },
        h("div.row", h("span.what", kindLabel(alert.kind)), severityBadge(alert.severity), h("span.spacer"), h("span.small.muted", fmtTime(alert.started_at))),
        h("div.detail", h("strong", who), " · ", detail),
      ),
    );
    if (existing) existing.replaceWith(el);
    else this.feed.prepend(el);
    this.feedItems.set(alert.incident_id, el);
    while (this.feed.children.length > FEED_LIMIT) {
      const last = this.feed.lastElementChild;
      for (const [key, value] of this.feedItems) if (value === last) this.feedItems.delete(key);
      last.remove();
    }
  }

  // ---- tiles --------------------------------------------------------------------------

  makeTile(entry) {
    const img = h("img", { alt: "", hidden: true });
    const placeholder = h("div.placeholder", "Waiting for video…");
    const status = h("span.badge.glass");
    const risk = h("span");
    const chips = h("div.bl");
    const name = h("div.name");
    const sub = h("div.sub");
    const el = h(
      "div.card.tile",
      { dataset: { sessionId: String(entry.session_id) }, tabindex: 0, role: "button", on: { click: () => this.openSession(entry.session_id), keydown: (e) => e.key === "Enter" && this.openSession(entry.session_id) } },
      h("div.shot", img, placeholder, h("div.tl", status), h("div.tr", risk), chips),
      h("div.info", h("span.avatar", initials(displayName(entry))), h("div", { style: "min-width:0" }, name, sub)),
    );
    return { el, img, placeholder, status, risk, chips, name, sub, loading: false };
  }

  updateTile(tile, entry) {
    if (!tile) return;
    tile.name.textContent = displayName(entry);
    tile.sub.textContent = `@${entry.username} · #${entry.session_id} · ${fmtClock((Date.parse(entry.deadline_at) - Date.now()) / 1000)} left`;
    tile.el.dataset.connected = String(entry.connected);
    clear(tile.status, h(`span.dot${entry.connected ? ".ok" : ""}`), entry.connected ? "Live" : entry.live ? "Offline" : "Not connected");
    clear(tile.risk, riskBadge(entry.risk_score));
    const kinds = [...new Set(entry.open_alerts.map((a) => a.kind))];
    clear(
      tile.chips,
      kinds.slice(0, 3).map((kind) => h("span.chip", { style: `background:${kindColor(kind)}`, dataset: { kind } }, kindLabel(kind))),
      kinds.length > 3 && h("span.chip.glass", `+${kinds.length - 3}`),
    );
    tile.el.classList.toggle("alerting", kinds.length > 0);
  }

  async refreshThumbnails() {
    if (document.hidden) return;
    await Promise.all(
      [...this.sessions.values()].filter((e) => e.live).map(async (entry) => {
        const tile = this.tiles.get(entry.session_id);
        if (!tile || tile.loading) return;
        tile.loading = true;
        try {
          const blob = await this.api.blob(`/api/sessions/${entry.session_id}/thumbnail`);
          if (!blob) return;
          const url = URL.createObjectURL(blob);
          const old = this.thumbUrls.get(entry.session_id);
          tile.img.onload = () => old && URL.revokeObjectURL(old);
          tile.img.src = url;
          tile.img.hidden = false;
          tile.placeholder.hidden = true;
          this.thumbUrls.set(entry.session_id, url);
        } catch {
          // next round
        } finally {
          tile.loading = false;
        }
      }),
    );
  }

  renderStats() {
    const entries = [...this.sessions.values()];
    const connected = entries.filter((e) => e.connected).length;
    const open = entries.reduce((n, e) => n + e.open_alerts.length, 0);
    const avg = entries.length ? entries.reduce((n, e) => n + e.risk_score, 0) / entries.length : 0;
    const high = entries.filter((e) => e.risk_score >= 50).length;
    const stat = (label, value, extra, id) => h(`div.card.stat#${id}`, h("div.label", label), h("div.value", value, extra && h("small", extra)));
    clear(
      this.stats,
      stat("Active attempts", entries.length, "", "stat-active"),
      stat("Connected", connected, entries.length ? `of ${entries.length}` : "", "stat-connected"),
      stat("Open alerts", open, "", "stat-open"),
      stat("Average risk", Math.round(avg), high ? `${high} high` : "", "stat-risk"),
    );
  }

  // ---- one candidate ------------------------------------------------------------------

  openSession(sessionId) {
    const entry = this.sessions.get(sessionId);
    if (!entry) {
      toast("This attempt is no longer active. See the Alerts tab for its history.");
      return;
    }
    if (this.panel) this.panel.close();
    this.panel = new SessionPanel(this, entry);
    this.focus(sessionId);
  }

  panelClosed(panel) {
    if (this.panel === panel) {
      this.panel = null;
      this.focus(null);
    }
  }
}

class SessionPanel {
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
    const el = this.renderItem(alert);
    if (old) old.el.replaceWith(el);
    else this.timeline.prepend(el);
    if (fresh && !old) el.classList.add("fresh");
    this.items.set(alert.id, { alert, el });
    this.renderEmpty();
  }

  renderItem(alert) {
    const ongoing = alert.state !== "ended";
    const when = h("span.when", `${fmtTime(alert.started_at)} · ${ongoing ? "ongoing" : fmtDuration(alertDuration(alert))}`);
    const note = h("textarea.review-note", { placeholder: "Note (optional)", maxLength: 2000 });
    const review = async (status, button) => {
      button.disabled = true;
      try {
        const saved = await this.api.patch(`/api/alerts/${alert.id}`, { review_status: status, note: note.value.trim() || null });
        this.upsertItem({ ...alert, ...saved }, false);
        toast(`${kindLabel(alert.kind)} ${status === "pending" ? "reopened" : status}.`, { kind: "ok", timeout: 3000 });
      } catch (error) {
        toast(error.message, { kind: "bad", title: "Review not saved" });
        button.disabled = false;
      }
    };
    let reviewBox;
    if (alert.review_status === "pending") {
      const confirm = h("button.btn.sm.success.review-confirm", { on: { click: (e) => review("confirmed", e.currentTarget) } }, icon("check"), "Confirm");
      const dismiss = h("button.btn.sm.review-dismiss", { on: { click: (e) => review("dismissed", e.currentTarget) } }, icon("x"), "Dismiss");
      reviewBox = h("div.review", note, h("div.row", confirm, dismiss));
    } else {
      const cls = alert.review_status === "confirmed" ? "bad" : "ok";
      reviewBox = h(
        "div.reviewed",
        h("div.row", h(`span.badge.${cls}.review-status`, alert.review_status === "confirmed" ? "Confirmed" : "Dismissed"), alert.reviewed_at && h("span", fmtTime(alert.reviewed_at)), h("span.spacer"), h("button.btn.ghost.sm", { on: { click: (e) => review("pending", e.currentTarget) } }, "Reopen")),
        alert.review_note && h("div", { style: "margin-top:4px;color:var(--text-2)" }, `“${alert.review_note}”`),
      );
    }
    return h(
      "div.timeline-item",
      { style: `--tl-color:${kindColor(alert.kind)}`, dataset: { alertId: String(alert.id), kind: alert.kind, review: alert.review_status } },
      h("div.head", h("span.kind", kindLabel(alert.kind)), severityBadge(alert.severity), ongoing && h("span.badge.bad", "open")),
      when,
      h("div.msg", alert.message),
      alert.evidence_url && evidenceImage(this.api, alert),
      reviewBox,
    );
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
      await new Promise((resolve) => setTimeout(resolve, 300)); // let the toast show before the panel goes
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
