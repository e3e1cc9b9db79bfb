// The alert kinds and risk bands as the server defines them (GET /api/vocabulary): the one
// source of their labels, notices to the candidate, colours and thresholds.

const kinds = new Map();
let bands = [];

/** Load the vocabulary once; every page calls this before drawing anything that needs it. */
export async function loadVocabulary(api) {
  if (kinds.size) return;
  const vocabulary = await api.request("GET", "/api/vocabulary", { auth: false });
  for (const entry of vocabulary.kinds) kinds.set(entry.kind, entry);
  bands = vocabulary.risk_bands;
}

/** Every kind the server raises, in its order. */
export function allKinds() {
  return [...kinds.keys()];
}

export function kindLabel(kind) {
  return kinds.get(kind)?.label || kind.replace(/_/g, " ");
}

export function kindColor(kind) {
  return kinds.get(kind)?.color || "#667085";
}

/** What the candidate is told when an incident of this kind starts (null if unknown). */
export function kindNotice(kind) {
  return kinds.get(kind)?.notice || null;
}

/** "low", "mid" or "high": the first band (highest first) whose lower bound the score reaches. */
export function riskClass(score) {
  return bands.find((band) => score >= band.from_score)?.name || "low";
}
