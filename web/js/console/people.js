// The People page (admins): create proctor, administrator or candidate accounts.

import { clear, h } from "../shared/dom.js";
import { icon } from "../shared/icons.js";

/** The admin's People page in `main`: create an account with a role. */
export function renderPeople(api, main) {
  const username = h("input#user-username", { type: "text", required: true, placeholder: "jane.doe" });
  const fullName = h("input#user-fullname", { type: "text", placeholder: "Jane Doe" });
  const password = h("input#user-password", { type: "password", required: true, placeholder: "At least 8 characters" });
  const role = h("select#user-role", h("option", { value: "proctor" }, "Proctor"), h("option", { value: "admin" }, "Administrator"), h("option", { value: "candidate" }, "Candidate"));
  const result = h("div");
  const button = h("button.btn.primary", { type: "submit" }, icon("plus"), "Create account");
  clear(
    main,
    h("div.main-head", h("div", h("h1", "People"), h("div.sub", "Create proctor, administrator or candidate accounts. Candidates can also register themselves."))),
    h(
      "div.card",
      { style: "max-width:640px" },
      h("div.card-head", h("h3", "New account")),
      h(
        "form.card-body.form-grid",
        {
          on: {
            submit: async (event) => {
              event.preventDefault();
              button.disabled = true;
              const body = { username: username.value.trim(), password: password.value, role: role.value };
              if (fullName.value.trim()) body.full_name = fullName.value.trim();
              try {
                const user = await api.post("/api/users", body);
                clear(result, h("div.notice.ok", icon("check"), h("span", `${user.role} account “${user.username}” created.`)));
                username.value = fullName.value = password.value = "";
              } catch (error) {
                clear(result, h("div.notice.bad", icon("alert"), h("span", error.message)));
              } finally {
                button.disabled = false;
              }
            },
          },
        },
        h("div.field", h("label", { for: "user-username" }, "Username"), username),
        h("div.field", h("label", { for: "user-fullname" }, "Full name"), fullName),
        h("div.field", h("label", { for: "user-password" }, "Password"), password),
        h("div.field", h("label", { for: "user-role" }, "Role"), role),
        h("div.full", result),
        h("div.full.row", h("span.spacer"), button),
      ),
    ),
  );
}
