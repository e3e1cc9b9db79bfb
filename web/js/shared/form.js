// Form submission both pages share: one request at a time, its failure shown in the form.

import { clear, h } from "./dom.js";
import { icon } from "./icons.js";

/** A submit listener: `button` is disabled while `action` runs; its error is shown in `errorBox`. */
export function submitting(button, errorBox, action) {
  return async (event) => {
    event.preventDefault();
    errorBox.hidden = true;
    button.disabled = true;
    try {
      await action();
    } catch (error) {
      clear(errorBox, icon("alert"), h("span", error.message));
      errorBox.hidden = false;
    } finally {
      button.disabled = false;
    }
  };
}
