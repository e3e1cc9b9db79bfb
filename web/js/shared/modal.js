// Modal dialogs: a generic modal and a yes/no confirmation.

import { h } from "./dom.js";
import { icon } from "./icons.js";

/** Open a modal; returns {el, body, close}. `onClose` runs once when it closes. */
export function modal({ title, subtitle = "", wide = false, body = [], foot = null, onClose } = {}) {
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    backdrop.remove();
    document.removeEventListener("keydown", onKey);
    if (onClose) onClose();
  };
  const onKey = (event) => {
    if (event.key === "Escape") close();
  };
  const bodyEl = h("div.modal-body", body);
  const head = h(
    "div.modal-head",
    h("div", h("h2", title), subtitle && h("div.muted.small", subtitle)),
    h("span.spacer"),
    h("button.icon-btn", { "aria-label": "Close", on: { click: close } }, icon("x")),
  );
  const box = h(`div.modal${wide ? ".wide" : ""}`, { role: "dialog", "aria-modal": "true" }, head, bodyEl, foot && h("div.modal-foot", foot));
  const backdrop = h("div.modal-backdrop", box);
  backdrop.addEventListener("mousedown", (event) => {
    if (event.target === backdrop) close();
  });
  document.addEventListener("keydown", onKey);
  document.body.append(backdrop);
  return { el: box, head, body: bodyEl, close };
}

/** Ask a yes/no question; resolves true when confirmed. */
export function confirmDialog({ title, text, confirm = "Confirm", danger = false }) {
  return new Promise((resolve) => {
    let answer = false;
    const ok = h(`button.btn.${danger ? "danger" : "primary"}#confirm-ok`, confirm);
    const cancel = h("button.btn", "Cancel");
    const m = modal({ title, body: [h("p.muted", text)], foot: [cancel, ok], onClose: () => resolve(answer) });
    ok.addEventListener("click", () => {
      answer = true;
      m.close();
    });
    cancel.addEventListener("click", () => m.close());
    ok.focus();
  });
}
