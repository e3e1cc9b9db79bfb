// The candidate page's common parts: its API client, root element, state, and the way home.

import { Api } from "../shared/api.js";

export const api = new Api("proctor.candidate");
export const app = document.getElementById("app");

/** What the home page knows: the camera stream (or why there is none), the meter, the enrolment. */
export const state = {
  stream: null,
  cameraError: null,
  enrolled: false,
  consented: false,
  meterStop: null,
};

let router = () => {};

/** Draw the page for where the candidate stands (main.js decides: sign in, or home). */
export function route() {
  router();
}

export function setRouter(draw) {
  router = draw;
}
