// The choice of transport for a live. WebRTC (WHEP) is sub-second, but
// browsers cannot decode B-frames over it: the server forwards a stream's
// I and P frames only, about a third of its frame rate. A shopper is better
// served by LL-HLS at the full frame rate (a few seconds behind), unless the
// seller chose otherwise: the campaign's transport (info.transport) is
// "auto" (this rule), "webrtc" (WebRTC, B-frames or not) or "llhls" (LL-HLS
// always). ?transport=whep or ?transport=hls on the page or the widget
// overrides both (and forces WebRTC even when it cannot carry the video).
export function preferWebRTC(info) {
  const w = info?.webrtc;
  if (!w?.enabled || /^none/.test(w.video || '')) return false;
  switch (info.transport) {
    case 'llhls':
      return false;
    case 'webrtc':
      return true;
    default:
      return !w.b_frames;
  }
}
