// Toasts: unobtrusive notices stacked in the corner of either page.

import { h } from "./dom.js";
import { icon } from "./icons.js";

let toastStack = null;

/** An unobtrusive notice in the corner; returns a function that dismisses it. */
export function toast(body, { title = "", kind = "info", timeout = 6000 } = {}) {
  if (!toastStack) {
    toastStack = h("div.toasts", { role: "status", "aria-live": "polite" });
    document.body.append(toastStack);
  }
  const glyph = { warn: "alert", bad: "alert", ok: "check", info: "info" }[kind] || "info";
  const colors = { warn: "var(--warn)", bad: "var(--bad)", ok: "var(--ok)", info: "var(--brand)" };
  const close = () => el.remove();
  const el = h(
    `div.toast.${kind}`,
    h("span", { style: `color:${colors[kind]}` }, icon(glyph)),
    h("div", title && h("div.t-title", title), h("div.t-body", body)),
    h("button.t-close", { "aria-label": "Dismiss", on: { click: close } }, "×"),
  );
  el.querySelector("svg").setAttribute("width", "18");
  el.querySelector("svg").setAttribute("height", "18");
  toastStack.append(el);
  while (toastStack.children.length > 3) toastStack.firstChild.remove();
  if (timeout) setTimeout(close, timeout);
  return close;
}
