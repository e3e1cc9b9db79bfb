// What the candidate is told during the exam: the link's state, warnings and proctors' messages.

import { clear, h } from "../shared/dom.js";
import { toast } from "../shared/toast.js";
import { kindNotice } from "../shared/vocabulary.js";

/** Show the link's state on the `badge`; warn with a toast when it drops or the server is busy. */
export function showLinkState(badge, linkState) {
  const labels = { connecting: ["Connecting", "warn"], connected: ["Connected", "ok"], reconnecting: ["Reconnecting", "warn"], waiting: ["Waiting for the server", "warn"], ended: ["Ended", ""] };
  const [label, cls] = labels[linkState] || [linkState, ""];
  badge.className = `badge${cls ? " " + cls : ""}`;
  badge.dataset.state = linkState;
  clear(badge, h(`span.dot${cls ? "." + cls : ""}`), label);
  if (linkState === "reconnecting") toast("Your connection dropped. Reconnecting…", { kind: "warn", timeout: 4000 });
  if (linkState === "waiting") toast("The proctoring server is busy. Your exam stays open; video resumes in a few seconds.", { kind: "warn", timeout: 8000 });
}

/** A proctoring notice or a proctor's message, as a toast. */
export function showServerMessage(message) {
  if (message.type === "alert" && message.state === "started") {
    toast(kindNotice(message.kind) || message.message, { kind: message.severity === "high" ? "bad" : "warn", title: "Proctoring notice", timeout: 7000 });
  } else if (message.type === "message") {
    toast(message.text, { kind: "info", title: `Message from ${message.from || "your proctor"}`, timeout: 20000 });
  }
}
