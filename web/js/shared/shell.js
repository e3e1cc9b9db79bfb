// The top bar both pages share: the brand, who is signed in, and the sign-out button.

import { clear, h } from "./dom.js";
import { initials } from "./format.js";
import { icon } from "./icons.js";

function brand(product) {
  return h("div.brand", h("span.logo", icon("logo")), "Proctor", h("span.product", product));
}

/** Fill `topbar`: the brand with `product`, then (when signed in) the user, `role` and sign out. */
export function renderTopbar(topbar, product, user, role, onSignOut) {
  clear(
    topbar,
    brand(product),
    user &&
      h(
        "div.userbox",
        h("span.avatar", initials(user.full_name || user.username)),
        h("div.who", h("strong", user.full_name || user.username), h("small", role)),
        h("button.btn.ghost.sm#logout", { on: { click: onSignOut } }, icon("logout"), "Sign out"),
      ),
  );
}
