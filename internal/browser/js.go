package browser

import (
	"encoding/json"
	"fmt"
)

// JavaScript for WHIP/WHEP end-to-end tests, run inside a page with Eval.
//
// Every snippet is a self-contained expression: it (re)defines the helpers
// on window.__vitrine, then calls one, and evaluates to a promise that Eval
// awaits. Session state lives in window.__whip and window.__whep, not in
// the helpers, so redefining them is harmless. One page holds at most one
// WHIP and one WHEP session; open a page per publisher or viewer.
//
// The page must be a secure context for getUserMedia, and same-origin with
// the endpoint unless the server answers CORS (and exposes Location):
// navigate it to the server itself, e.g. its base URL (a 404 page is fine),
// and use http://127.0.0.1 or localhost (or WithArgs with
// --unsafely-treat-insecure-origin-as-secure=<origin>). WHIP needs a browser
// launched WithFakeMedia.
//
//	b := browser.Launch(t, browser.WithFakeMedia())
//	pub, _ := b.NewPage(ctx, base+"/")
//	var res browser.WHIPResult
//	err := pub.Eval(ctx, browser.WHIPPublishJS(base+"/whip/show1", token), &res)
//
//	view, _ := b.NewPage(ctx, base+"/")
//	err = view.Eval(ctx, browser.WHEPPlayJS(base+"/whep/show1"), nil)
//	err = view.WaitFor(ctx, "("+browser.WHEPStatsJS+").then(s => s.framesDecoded > 30)", 0)
//	var st browser.WHEPStats
//	err = view.Eval(ctx, browser.WHEPStatsJS, &st)

// WHIPResult is what WHIPPublishJS resolves to.
type WHIPResult struct {
	Status      int    `json:"status"`      // HTTP status of the POST (201)
	Location    string `json:"location"`    // session URL, absolute
	ContentType string `json:"contentType"` // of the answer
	VideoCodec  string `json:"videoCodec"`  // negotiated, e.g. "video/H264"
	VideoFmtp   string `json:"videoFmtp"`   // its fmtp line
	AudioCodec  string `json:"audioCodec"`  // e.g. "audio/opus"
}

// WHEPResult is what WHEPPlayJS resolves to.
type WHEPResult struct {
	Status      int    `json:"status"`
	Location    string `json:"location"`
	ContentType string `json:"contentType"`
}

// WHEPStats is what WHEPStatsJS resolves to.
type WHEPStats struct {
	FramesDecoded        int64 `json:"framesDecoded"`
	FramesDropped        int64 `json:"framesDropped"`
	FreezeCount          int64 `json:"freezeCount"`
	VideoPacketsLost     int64 `json:"videoPacketsLost"`
	AudioPacketsReceived int64 `json:"audioPacketsReceived"`
	AudioPacketsLost     int64 `json:"audioPacketsLost"`
	// Of the <video> element once it plays, else of the decoded frames.
	VideoWidth  int `json:"videoWidth"`
	VideoHeight int `json:"videoHeight"`
	// Milliseconds from the POST of the offer to the first frame presented
	// (requestVideoFrameCallback) or, failing that, first seen decoded by
	// getStats; nil until then.
	FirstFrameMs    *float64 `json:"firstFrameMs"`
	ConnectionState string   `json:"connectionState"`
	VideoCodec      string   `json:"videoCodec"`
	AudioCodec      string   `json:"audioCodec"`
}

// HelpersJS defines window.__vitrine = {whipPublish(url, token),
// whipStop(), whepPlay(url, token), whepStop(), whepStats()}. The snippets
// below include it; it is exported for tests that call the helpers
// directly.
const HelpersJS = `window.__vitrine = (() => {
  // Long enough for a loaded CI machine; the Go context usually ends first.
  const connectTimeoutMs = 20000;
  // On loopback every host candidate is there within milliseconds; a
  // missing end-of-candidates must not stall the offer.
  const gatherTimeoutMs = 2000;

  // The whole offer goes in one POST (no trickle ICE): simplest for the
  // server, and what most WHIP clients do.
  function gatheringComplete(pc) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        pc.removeEventListener('icegatheringstatechange', onState);
        pc.removeEventListener('icecandidate', onCandidate);
        resolve();
      };
      const onState = () => { if (pc.iceGatheringState === 'complete') done(); };
      const onCandidate = (e) => { if (!e.candidate) done(); };
      const timer = setTimeout(done, gatherTimeoutMs);
      pc.addEventListener('icegatheringstatechange', onState);
      pc.addEventListener('icecandidate', onCandidate);
    });
  }

  function connected(pc, kind) {
    return new Promise((resolve, reject) => {
      const done = (err) => {
        clearTimeout(timer);
        pc.removeEventListener('connectionstatechange', check);
        if (err) reject(err); else resolve();
      };
      const describe = () => 'connectionState ' + pc.connectionState +
        ', iceConnectionState ' + pc.iceConnectionState;
      const check = () => {
        if (pc.connectionState === 'connected') done();
        else if (pc.connectionState === 'failed' || pc.connectionState === 'closed')
          done(new Error(kind + ': ' + describe()));
      };
      const timer = setTimeout(() => done(new Error(
        kind + ': not connected after ' + connectTimeoutMs + ' ms: ' + describe())), connectTimeoutMs);
      pc.addEventListener('connectionstatechange', check);
      check();
    });
  }

  async function post(kind, url, token, sdp) {
    const headers = {'Content-Type': 'application/sdp'};
    if (token) headers['Authorization'] = 'Bearer ' + token;
    let resp;
    try {
      resp = await fetch(url, {method: 'POST', headers, body: sdp});
    } catch (e) {
      throw new Error(kind + ' POST ' + url + ': ' + e.message + ' (network error, or CORS for a cross-origin endpoint)');
    }
    const body = await resp.text();
    if (resp.status !== 201)
      throw new Error(kind + ' POST ' + url + ': HTTP ' + resp.status + ': ' + body.slice(0, 1000));
    const loc = resp.headers.get('Location');
    if (!loc)
      throw new Error(kind + ' POST ' + url + ': HTTP 201 without Location (a cross-origin server must list it in Access-Control-Expose-Headers)');
    return {status: resp.status, location: new URL(loc, resp.url || url).href,
            contentType: resp.headers.get('Content-Type') || '', answer: body};
  }

  async function del(kind, s) {
    if (!s) throw new Error('no ' + kind + ' session');
    let status = 0;
    if (s.location) {
      const headers = {};
      if (s.token) headers['Authorization'] = 'Bearer ' + s.token;
      const resp = await fetch(s.location, {method: 'DELETE', headers});
      status = resp.status;
    }
    s.pc.close();
    if (s.stream && s.ownTracks) s.stream.getTracks().forEach((t) => t.stop());
    return {status};
  }

  // H.264 first (packetization-mode=1, constrained baseline before the
  // rest), everything else kept after it as fallbacks.
  function preferH264(transceiver) {
    if (typeof transceiver.setCodecPreferences !== 'function') return false;
    const rank = (c) => {
      if (c.mimeType.toLowerCase() !== 'video/h264') return 3;
      const f = c.sdpFmtpLine || '';
      if (!f.includes('packetization-mode=1')) return 2;
      return f.includes('profile-level-id=42e01f') ? 0 : 1;
    };
    for (const caps of [RTCRtpSender.getCapabilities('video'), RTCRtpReceiver.getCapabilities('video')]) {
      if (!caps || !caps.codecs.some((c) => rank(c) < 3)) continue;
      try {
        transceiver.setCodecPreferences(caps.codecs.slice().sort((a, b) => rank(a) - rank(b)));
        return true;
      } catch (e) {
        // Browsers disagree on which capabilities a sendonly transceiver
        // accepts: try the other list.
      }
    }
    return false;
  }

  function negotiated(sender) {
    const c = (sender.getParameters().codecs || [])[0];
    return c ? {mimeType: c.mimeType, fmtp: c.sdpFmtpLine || ''} : {mimeType: '', fmtp: ''};
  }

  async function whipPublish(url, token) {
    if (!navigator.mediaDevices)
      throw new Error('navigator.mediaDevices is undefined: getUserMedia needs a secure context (http://127.0.0.1, localhost, https)');
    const stream = await navigator.mediaDevices.getUserMedia({video: true, audio: true});
    const pc = new RTCPeerConnection();
    const s = window.__whip = {pc, stream, ownTracks: true, url, token, location: null, error: null};
    try {
      const video = pc.addTransceiver(stream.getVideoTracks()[0], {direction: 'sendonly', streams: [stream]});
      const audio = pc.addTransceiver(stream.getAudioTracks()[0], {direction: 'sendonly', streams: [stream]});
      preferH264(video);
      await pc.setLocalDescription(await pc.createOffer());
      await gatheringComplete(pc);
      const r = await post('WHIP', url, token, pc.localDescription.sdp);
      s.location = r.location;
      await pc.setRemoteDescription({type: 'answer', sdp: r.answer});
      await connected(pc, 'WHIP');
      const v = negotiated(video.sender), a = negotiated(audio.sender);
      return {status: r.status, location: r.location, contentType: r.contentType,
              videoCodec: v.mimeType, videoFmtp: v.fmtp, audioCodec: a.mimeType};
    } catch (e) {
      s.error = String(e); // left in place for the test to inspect
      throw e;
    }
  }

  async function whepPlay(url, token) {
    const pc = new RTCPeerConnection();
    pc.addTransceiver('video', {direction: 'recvonly'});
    pc.addTransceiver('audio', {direction: 'recvonly'});
    // The receivers' tracks exist from the start: no need to wait for
    // ontrack to give the element its stream.
    const stream = new MediaStream(pc.getReceivers().map((r) => r.track));
    let video = document.getElementById('vitrine-whep');
    if (!video) {
      video = document.createElement('video');
      video.id = 'vitrine-whep';
      (document.body || document.documentElement).appendChild(video);
    }
    video.muted = true;
    video.autoplay = true;
    video.playsInline = true;
    video.setAttribute('muted', '');
    video.setAttribute('autoplay', '');
    video.setAttribute('playsinline', '');
    video.srcObject = stream;
    const s = window.__whep = {pc, video, stream, ownTracks: false, url, token,
                               location: null, error: null, t0: 0, firstFrameMs: null};
    if ('requestVideoFrameCallback' in video) {
      video.requestVideoFrameCallback(() => {
        if (s.firstFrameMs === null && s.t0) s.firstFrameMs = performance.now() - s.t0;
      });
    }
    video.play().catch(() => {}); // autoplay retries once data flows
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await gatheringComplete(pc);
      s.t0 = performance.now();
      const r = await post('WHEP', url, token, pc.localDescription.sdp);
      s.location = r.location;
      await pc.setRemoteDescription({type: 'answer', sdp: r.answer});
      await connected(pc, 'WHEP');
      return {status: r.status, location: r.location, contentType: r.contentType};
    } catch (e) {
      s.error = String(e);
      throw e;
    }
  }

  async function whepStats() {
    const s = window.__whep;
    if (!s) throw new Error('no WHEP session: run WHEPPlayJS first');
    const out = {framesDecoded: 0, framesDropped: 0, freezeCount: 0, videoPacketsLost: 0,
                 audioPacketsReceived: 0, audioPacketsLost: 0,
                 videoWidth: s.video.videoWidth, videoHeight: s.video.videoHeight,
                 firstFrameMs: null, connectionState: s.pc.connectionState,
                 videoCodec: '', audioCodec: ''};
    const stats = await s.pc.getStats();
    stats.forEach((r) => {
      if (r.type !== 'inbound-rtp') return;
      const codec = r.codecId ? stats.get(r.codecId) : null;
      if (r.kind === 'video') {
        out.framesDecoded = r.framesDecoded || 0;
        out.framesDropped = r.framesDropped || 0;
        out.freezeCount = r.freezeCount || 0;
        out.videoPacketsLost = r.packetsLost || 0;
        if (!out.videoWidth) { out.videoWidth = r.frameWidth || 0; out.videoHeight = r.frameHeight || 0; }
        out.videoCodec = codec ? codec.mimeType : '';
      } else if (r.kind === 'audio') {
        out.audioPacketsReceived = r.packetsReceived || 0;
        out.audioPacketsLost = r.packetsLost || 0;
        out.audioCodec = codec ? codec.mimeType : '';
      }
    });
    // Coarse fallback, as precise as the polling, when no frame callback
    // came (element not playing).
    if (s.firstFrameMs === null && s.t0 && out.framesDecoded > 0) s.firstFrameMs = performance.now() - s.t0;
    out.firstFrameMs = s.firstFrameMs;
    return out;
  }

  return {
    whipPublish, whepPlay, whepStats,
    whipStop: () => del('WHIP', window.__whip),
    whepStop: () => del('WHEP', window.__whep),
  };
})()`

// WHIPPublishJS publishes the fake camera and microphone to the WHIP
// endpoint url with "Authorization: Bearer token" (none if token is
// empty): sendonly transceivers, H.264 preferred, the complete offer POSTed
// as application/sdp once ICE gathering is done. It resolves to a
// WHIPResult once the connection is up, and rejects with the HTTP status
// and body if the POST does not answer 201 with a Location. The session is
// kept in window.__whip ({pc, stream, location, error}).
func WHIPPublishJS(url, token string) string { return callJS("whipPublish", url, token) }

// WHEPPlayJS plays the WHEP endpoint url: recvonly video and audio
// transceivers, the offer POSTed as application/sdp, the answer applied,
// the tracks attached to a <video id="vitrine-whep" muted autoplay
// playsinline>. It resolves to a WHEPResult once connected (errors as
// WHIPPublishJS). The session is kept in window.__whep.
func WHEPPlayJS(url string) string { return callJS("whepPlay", url, "") }

// WHEPStatsJS resolves to the WHEPStats of the page's WHEP session.
const WHEPStatsJS = "(() => { " + HelpersJS + "; return window.__vitrine.whepStats(); })()"

// WHIPStopJS and WHEPStopJS end the page's session: DELETE on its Location
// (with the token for WHIP), then close the peer connection. They resolve
// to {status} of the DELETE.
const (
	WHIPStopJS = "(() => { " + HelpersJS + "; return window.__vitrine.whipStop(); })()"
	WHEPStopJS = "(() => { " + HelpersJS + "; return window.__vitrine.whepStop(); })()"
)

// callJS builds the expression calling helper fn with string arguments,
// JSON-quoted (valid JavaScript string literals, whatever they contain).
func callJS(fn string, args ...string) string {
	quoted, err := json.Marshal(args)
	if err != nil {
		panic(err) // strings always marshal
	}
	return fmt.Sprintf("(() => { %s; return window.__vitrine.%s(...%s); })()", HelpersJS, fn, quoted)
}
