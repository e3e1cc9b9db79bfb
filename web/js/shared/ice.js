// WebRTC helper both pages need: wait for ICE gathering, since we never trickle candidates.

/** Wait until `pc` has gathered every ICE candidate (we never trickle), at most `ms`. */
export function iceGatheringComplete(pc, ms = 4000) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    }, ms);
    pc.addEventListener("icegatheringstatechange", done);
  });
}
