// The recording and data notice the candidate agrees to before anything is taken of them:
// no reference photo and no exam without it (the server refuses both, 409 consent_required).

import { clear, h } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { toast } from "../shared/toast.js";
import { api, state } from "./page.js";

/** Fill `card` with the notice and, until the candidate agrees, an "I agree" button;
 * `refresh()` after they do. Sets `state.consented`. */
export async function renderConsent(card, refresh) {
  let notice;
  try {
    notice = await api.get("/api/consent");
  } catch (error) {
    clear(card, h("div.card-body", h("div.notice.bad", icon("alert"), h("span", error.message))));
    return;
  }
  state.consented = Boolean(notice.given_at);
  const agree = h("button.btn.primary#consent-agree", { on: { click: () => give(notice, agree, card, refresh) } }, icon("check"), "I agree");
  clear(
    card,
    h("div.card-head", h("span.exam-icon", icon("eye")), h("div", h("h3", "Recording and your data"), h("p", state.consented ? "You agreed to this notice" : "Please read and agree before you continue"))),
    h(
      "div.card-body.stack#consent",
      { dataset: { given: String(state.consented) } },
      h("p.small#consent-text", { style: "white-space:pre-wrap;margin:0" }, notice.text),
      state.consented ? h("div.small.muted", `Agreed on ${new Date(notice.given_at).toLocaleString()}.`) : h("div", agree),
    ),
  );
}

async function give(notice, button, card, refresh) {
  button.disabled = true;
  try {
    await api.post("/api/me/consent", { version: notice.version });
    await renderConsent(card, refresh);
    refresh();
  } catch (error) {
    toast(error.message, { kind: "bad", title: "Not saved" });
    button.disabled = false;
  }
}
