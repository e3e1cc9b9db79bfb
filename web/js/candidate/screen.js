// The candidate's screen, for exams that record it: the entire screen only (a window or a tab
// is refused and reported), sent as a second video track at the low rate the server asks for,
// and its end reported at once.

import { clear, h } from "../shared/dom.js";
import { icon } from "../shared/icons.js";

const ENDED_CHECK_MS = 1000; // some browsers end a capture without an "ended" event

const SURFACE_NAMES = { window: "a window", browser: "a browser tab", application: "an application" };

/** Options that steer the browser's picker to the entire screen (where it has them). */
const DISPLAY_OPTIONS = {
  video: { displaySurface: "monitor", frameRate: { max: 2 } },
  audio: false,
  monitorTypeSurfaces: "include",
  selfBrowserSurface: "exclude",
  surfaceSwitching: "exclude",
};

export class ScreenGate {
  /** `link` carries the track and the reports; `onChange(shared)` when sharing starts or ends. */
  constructor(link, onChange) {
    this.link = link;
    this.onChange = onChange;
    this.track = null;
    this.timer = null;
    this.message = h("div.small.muted#screen-gate-text", "This exam records your entire screen. Share it to see the questions.");
    this.button = h("button.btn.primary#share-screen", { on: { click: () => this.request() } }, icon("monitor"), "Share my entire screen");
    this.preview = h("video#screen-preview", { autoplay: true, muted: true, playsInline: true, hidden: true });
    this.el = h("div.card.card-body.stack#screen-gate", { dataset: { shared: "false" } }, h("h3", "Share your screen"), this.message, h("div", this.button));
    this.onScreenChange = () => this.report();
  }

  get shared() {
    return Boolean(this.track && this.track.readyState === "live");
  }

  async request() {
    this.button.disabled = true;
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia(DISPLAY_OPTIONS);
    } catch (error) {
      this.tell(`Your screen was not shared (${error.name}). Please try again and choose your entire screen.`, true);
      this.button.disabled = false;
      return;
    }
    const track = stream.getVideoTracks()[0];
    const surface = track.getSettings().displaySurface;
    if (surface && surface !== "monitor") {
      for (const each of stream.getTracks()) each.stop();
      this.link.send({ type: "screen", state: "refused", surface });
      this.tell(`You shared ${SURFACE_NAMES[surface] || "only part of your screen"}. Please share your entire screen instead.`, true);
      this.el.dataset.refused = surface;
      this.button.disabled = false;
      return;
    }
    this.track = track;
    this.preview.srcObject = stream;
    track.addEventListener("ended", () => this.ended());
    this.timer = setInterval(() => track.readyState === "ended" && this.ended(), ENDED_CHECK_MS);
    if (window.screen && "onchange" in window.screen) window.screen.addEventListener("change", this.onScreenChange);
    this.link.setScreen(track);
    this.report();
    this.el.dataset.shared = "true";
    this.el.hidden = true;
    this.button.disabled = false;
    this.onChange(true);
  }

  /** Tell the server the screen is shared, and whether it extends over several monitors. */
  report() {
    if (!this.shared) return;
    const extended = window.screen && typeof window.screen.isExtended === "boolean" ? window.screen.isExtended : null;
    this.link.send({ type: "screen", state: "shared", extended });
  }

  ended() {
    if (!this.track) return;
    clearInterval(this.timer);
    window.screen?.removeEventListener?.("change", this.onScreenChange);
    this.track = null;
    this.link.setScreen(null);
    this.link.send({ type: "screen", state: "stopped" });
    this.tell("You stopped sharing your screen. Share your entire screen again to continue.", true);
    this.el.dataset.shared = "false";
    this.el.hidden = false;
    this.onChange(false);
  }

  tell(text, bad) {
    clear(this.message, bad ? h("span", { style: "color:var(--bad-700)" }, text) : text);
  }

  stop() {
    clearInterval(this.timer);
    if (this.track) this.track.stop();
    this.track = null;
  }
}
