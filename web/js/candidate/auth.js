// Sign in or register: the candidate's account form, with staff accounts sent to /proctor.

import { ApiError } from "../shared/api.js";
import { clear, h } from "../shared/dom.js";
import { submitting } from "../shared/form.js";
import { api, app, route } from "./page.js";

export function renderAuth(mode = "login") {
  const error = h("div.notice.bad#auth-error", { hidden: true });
  const fullName = h("input#auth-fullname", { type: "text", autocomplete: "name", placeholder: "Ada Lovelace" });
  const username = h("input#auth-username", { type: "text", autocomplete: "username", required: true, placeholder: "your.name" });
  const password = h("input#auth-password", {
    type: "password",
    autocomplete: mode === "login" ? "current-password" : "new-password",
    required: true,
    placeholder: mode === "login" ? "Your password" : "At least 8 characters",
  });
  const submit = h("button.btn.primary.block#auth-submit", { type: "submit" }, mode === "login" ? "Sign in" : "Create account");
  const signIn = async () => {
    const user =
      mode === "login"
        ? await api.login(username.value.trim(), password.value)
        : await api.register(username.value.trim(), password.value, fullName.value.trim());
    if (user.role !== "candidate") {
      await api.logout();
      throw new ApiError(403, "wrong_page", "This account is for staff: use the proctor console at /proctor.");
    }
    route();
  };
  const form = h(
    "form.stack",
    { on: { submit: submitting(submit, error, signIn) } },
    mode === "register" && h("div.field", h("label", { for: "auth-fullname" }, "Full name"), fullName),
    h("div.field", h("label", { for: "auth-username" }, "Username"), username),
    h("div.field", h("label", { for: "auth-password" }, "Password"), password),
    error,
    submit,
  );
  const tabs = h(
    "div.seg",
    { role: "tablist" },
    h("button#tab-login", { type: "button", role: "tab", "aria-selected": String(mode === "login"), on: { click: () => renderAuth("login") } }, "Sign in"),
    h("button#tab-register", { type: "button", role: "tab", "aria-selected": String(mode === "register"), on: { click: () => renderAuth("register") } }, "Register"),
  );
  clear(
    app,
    h(
      "div.auth-wrap",
      h(
        "div.card.auth-card",
        h(
          "div.card-body",
          h("div", { style: "margin-bottom:18px" }, tabs),
          h("h1", mode === "login" ? "Welcome back" : "Create your account"),
          h("p.lead", "Your exam is proctored: you will need a webcam and a microphone."),
          form,
        ),
      ),
    ),
  );
  (mode === "register" ? fullName : username).focus();
}
