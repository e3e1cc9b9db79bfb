// The candidate's page: sign in, check camera and microphone, enrol a reference photo, take
// the exam with a live link to the proctors, submit.

import { renderTopbar } from "../shared/shell.js";
import { toast } from "../shared/toast.js";
import { loadVocabulary } from "../shared/vocabulary.js";
import { renderAuth } from "./auth.js";
import { stopCamera } from "./camera.js";
import { renderHome } from "./home.js";
import { api, route, setRouter } from "./page.js";

const topbar = document.getElementById("topbar");

api.onUnauthorized = () => {
  api.forget();
  toast("Your sign-in has expired. Please sign in again.", { kind: "warn" });
  route();
};

function logout() {
  stopCamera();
  api.logout().finally(route);
}

setRouter(() => {
  renderTopbar(topbar, "Exam", api.user, "Candidate", logout);
  if (!api.loggedIn) renderAuth();
  else renderHome();
});
// The notices shown during the exam come from the server; a page without them still works.
loadVocabulary(api).catch(() => {});
route();
