// Alert evidence: the snapshot fetched with the bearer token, shown small and enlarged on click.

import { h } from "../shared/dom.js";
import { fmtTime } from "../shared/format.js";
import { modal } from "../shared/modal.js";
import { kindLabel } from "../shared/vocabulary.js";

const evidenceUrls = new Map(); // alert id -> object URL, fetched once

/** An alert's evidence snapshot as an <img> (fetched with the bearer token). */
export function evidenceImage(api, alert, onOpen) {
  const img = h("img.evidence", { alt: `Evidence: ${kindLabel(alert.kind)}`, title: "Click to enlarge" });
  const load = async () => {
    let url = evidenceUrls.get(alert.id);
    if (!url) {
      const blob = await api.blob(`/api/alerts/${alert.id}/evidence`).catch(() => null);
      if (!blob) {
        img.replaceWith(h("div.small.muted", "No snapshot"));
        return;
      }
      url = URL.createObjectURL(blob);
      evidenceUrls.set(alert.id, url);
    }
    img.src = url;
  };
  img.addEventListener("click", () => {
    if (!img.src) return;
    modal({ title: kindLabel(alert.kind), subtitle: `${fmtTime(alert.started_at)} · ${alert.message}`, wide: false, body: [h("img.lightbox", { src: img.src, alt: "Evidence" })] }).el.style.width = "min(760px, 100%)";
    if (onOpen) onOpen();
  });
  load();
  return img;
}
