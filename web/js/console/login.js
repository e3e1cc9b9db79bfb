// The console's sign-in: staff accounts only, candidates are sent to their page.

import { ApiError } from "../shared/api.js";
import { clear, h } from "../shared/dom.js";
import { submitting } from "../shared/form.js";

/** The staff sign-in form in `app`; `onSignedIn` runs once a proctor or admin is signed in. */
export function renderLogin(api, app, onSignedIn) {
  const error = h("div.notice.bad#auth-error", { hidden: true });
  const username = h("input#auth-username", { type: "text", autocomplete: "username", required: true });
  const password = h("input#auth-password", { type: "password", autocomplete: "current-password", required: true });
  const submit = h("button.btn.primary.block#auth-submit", { type: "submit" }, "Sign in");
  const signIn = async () => {
    const user = await api.login(username.value.trim(), password.value);
    if (user.role === "candidate") {
      await api.logout();
      throw new ApiError(403, "wrong_page", "This is a candidate account: take your exam at the home page (/).");
    }
    onSignedIn();
  };
  clear(
    app,
    h(
      "div.auth-wrap",
      h(
        "div.card.auth-card",
        h(
          "div.card-body",
          h("h1", "Proctor console"),
          h("p.lead", "Sign in to watch your exams live, review alerts and manage exams."),
          h(
            "form.stack",
            { on: { submit: submitting(submit, error, signIn) } },
            h("div.field", h("label", { for: "auth-username" }, "Username"), username),
            h("div.field", h("label", { for: "auth-password" }, "Password"), password),
            error,
            submit,
          ),
        ),
      ),
    ),
  );
  username.focus();
}
