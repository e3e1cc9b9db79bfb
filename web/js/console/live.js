// The live tab of the proctor console: the exam's WebSocket, the grid of attempts with their
// thumbnails, the figures above it, and which candidate is open in full.

import { clear, h } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { toast } from "../shared/toast.js";
import { riskClass } from "../shared/vocabulary.js";
import { displayName } from "./labels.js";
import { AlertFeed } from "./live-feed.js";
import { makeTile, updateTile } from "./live-tiles.js";
import { SessionPanel } from "./session-panel.js";

const THUMBNAIL_EVERY_MS = 2000;

export class LiveExam {
  constructor(api, exam, root) {
    this.api = api;
    this.exam = exam;
    this.root = root;
    this.sessions = new Map();
    this.tiles = new Map();
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
    this.feed = new AlertFeed(this.api, this.exam, this.sessions, (sessionId) => this.openSession(sessionId));
    this.emptyGrid = h("div.card.empty#no-sessions", icon("users"), h("div", "No candidate is taking this exam right now."), h("div.small", "Attempts appear here live as soon as they start."));
    clear(
      this.root,
      this.stats,
      h(
        "div.cols",
        h("div.stack", h("div.row", h("h3", "Candidates"), h("span.spacer"), this.wsPill), this.emptyGrid, this.grid),
        h("div.card", h("div.card-head", h("h3", "Live alerts"), h("span.spacer"), h("span.small.muted", "newest first")), this.feed.el),
      ),
    );
    this.renderStats();
    this.feed.loadRecent();
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

  async connect() {
    if (this.closed) return;
    let ticket;
    try {
      ticket = await this.api.ticket(); // single use: never a token in the URL
    } catch {
      if (!this.closed) setTimeout(() => this.connect(), Math.min(10000, 1000 * 2 ** this.retry++));
      return;
    }
    if (this.closed) return;
    const url = `${location.origin.replace(/^http/, "ws")}/api/exams/${this.exam.id}/live?ticket=${encodeURIComponent(ticket)}`;
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
      tile = makeTile(entry, () => this.openSession(entry.session_id));
      this.tiles.set(entry.session_id, tile);
      this.grid.append(tile.el);
    }
    updateTile(tile, entry);
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
      updateTile(this.tiles.get(alert.session_id), entry);
    }
    this.feed.add(alert, true);
    if (this.panel && this.panel.sessionId === alert.session_id) this.panel.onAlert(alert);
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
    const high = entries.filter((e) => riskClass(e.risk_score) === "high").length;
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

