// The choice of transport for a live. WebRTC (WHEP) is sub-second, but
// browsers cannot decode B-frames over it: the server forwards a stream's
// I and P frames only, about a third of its frame rate. A shopper is better
// served by LL-HLS at the full frame rate (a few seconds behind), unless the
// seller chose otherwise (?transport=whep on the page or the widget, which
// also forces WebRTC when it cannot carry the video at all).
export function preferWebRTC(info) {
  const w = info?.webrtc;
  if (!w?.enabled || /^none/.test(w.video || '')) return false;
  return !w.b_frames;
}
