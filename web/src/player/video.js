// The video: WebRTC (WHEP) for sub-second latency, LL-HLS (hls.js in
// low-latency mode, or the browser's own HLS) as the fallback, switching on
// failure; HLS VOD for the replay. mediaNow() is the time, on the media
// clock (the server's wall clock at ingest, the clock of the overlay
// events' "at"), of the frame on screen; null when nothing plays.
import { whep } from './whep.js';

const nativeHLS = (v) => !!v.canPlayType('application/vnd.apple.mpegurl') && !window.MediaSource;

export class Video {
  constructor(el, { clock, onStatus, onFrame, onPlaying }) {
    this.el = el;
    this.clock = clock; // {offset}: server clock - Date.now()
    this.onStatus = onStatus;
    this.onFrame = onFrame;
    this.onPlaying = onPlaying;
    this.transport = '';
    this.frameMedia = null; // media time of the frame on screen (ms since epoch)
    this.frames = 0;
    this.lastFrameWall = 0;
    this.session = null;
    this.hls = null;
    this.gen = 0;
    this.latency = { oneWay: 0, jitterBuffer: 80 };
    this.watchFrames();
    // A WebRTC picture frozen for 4 s while the page is visible: the
    // session died (network change, server restart): switch to LL-HLS.
    setInterval(() => {
      if (this.transport === 'whep' && this.frames > 0 && document.visibilityState === 'visible' && performance.now() - this.lastFrameWall > 4000) {
        console.warn('vitrine: WebRTC froze, switching to LL-HLS');
        this.fallback?.();
      }
    }, 1000);
  }

  // live starts WHEP when it can carry the video, else LL-HLS; a failed
  // WHEP falls back to LL-HLS.
  async live({ whepURL, hlsURL, preferWebRTC, force }) {
    const useWHEP = force ? force === 'whep' : preferWebRTC && 'RTCPeerConnection' in window;
    if (useWHEP) {
      try {
        await this.playWHEP(whepURL);
        return;
      } catch (e) {
        if (force === 'whep') throw e;
        console.warn('vitrine: WebRTC failed, falling back to LL-HLS:', e.message || e);
      }
    }
    await this.playHLS(hlsURL, { live: true });
  }

  stop() {
    this.gen++;
    this.session?.stop();
    this.session = null;
    this.hls?.destroy();
    this.hls = null;
    this.el.removeAttribute('src');
    this.el.srcObject = null;
    this.transport = '';
    this.frameMedia = null;
    this.started = false;
  }

  async playWHEP(url) {
    this.stop();
    const gen = this.gen;
    this.transport = 'whep';
    this.onStatus?.('connecting');
    const stream = new MediaStream();
    const failed = new Promise((_, fail) => {
      this._fail = fail;
    });
    failed.catch(() => {});
    this.session = await whep(url, {
      onTrack: (track) => {
        stream.addTrack(track);
        if (this.el.srcObject !== stream) this.el.srcObject = stream;
      },
      onFailed: (e) => {
        if (gen !== this.gen) return;
        this._fail?.(e);
        this.onStatus?.('failed', e);
        // Mid-show failure: fall back to LL-HLS.
        if (this.frames > 0) this.fallback?.();
      },
    });
    this.el.play().catch(() => {});
    // No frame within a few seconds: WebRTC does not get through.
    const start = this.frames;
    await Promise.race([
      failed,
      new Promise((ok, fail) => {
        const t0 = performance.now();
        const check = () => {
          if (gen !== this.gen) return fail(new Error('stopped'));
          if (this.frames > start) return ok();
          if (performance.now() - t0 > 6000) return fail(new Error('no video over WebRTC'));
          setTimeout(check, 50);
        };
        check();
      }),
    ]).catch((e) => {
      if (gen === this.gen) this.stop();
      throw e;
    });
    this.pollLatency(gen);
  }

  async pollLatency(gen) {
    while (gen === this.gen && this.session) {
      try {
        this.latency = await this.session.latency();
      } catch {}
      await new Promise((r) => setTimeout(r, 2000));
    }
  }

  async playHLS(url, { live, start } = {}) {
    this.stop();
    const gen = this.gen;
    this.transport = live ? 'hls' : 'vod';
    this.onStatus?.('connecting');
    const v = this.el;
    if (nativeHLS(v)) {
      v.src = url;
      if (start != null) v.addEventListener('loadedmetadata', () => this.seekMedia(start), { once: true });
      v.play().catch(() => {});
      return;
    }
    let Hls;
    try {
      Hls = (await import('hls.js/dist/hls.light.mjs')).default;
    } catch (e) {
      throw new Error('LL-HLS player not available: ' + (e.message || e));
    }
    if (gen !== this.gen) return;
    if (!Hls.isSupported()) throw new Error('this browser plays neither WebRTC nor HLS');
    const hls = new Hls({
      lowLatencyMode: !!live,
      backBufferLength: live ? 10 : 60,
      enableWorker: true,
      liveDurationInfinity: true,
    });
    this.hls = hls;
    hls.on(Hls.Events.ERROR, (_, d) => {
      if (!d.fatal || gen !== this.gen) return;
      if (d.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
      else {
        this.onStatus?.('failed', new Error(d.details));
        // Retry the playlist a little later (the encoder may be back).
        setTimeout(() => gen === this.gen && hls.startLoad(), 2000);
      }
    });
    if (start != null) hls.once(Hls.Events.LEVEL_LOADED, () => setTimeout(() => this.seekMedia(start), 0));
    hls.loadSource(url);
    hls.attachMedia(v);
    v.play().catch(() => {});
  }

  // mediaNow is the media-clock time of the frame on screen.
  mediaNow() {
    const v = this.el;
    if (!this.transport || v.readyState < 2) return null;
    // A stalled picture (the live ended, the network froze) has no clock.
    if (performance.now() - this.lastFrameWall > 2000) return null;
    if (this.transport === 'whep') return this.frameMedia;
    if (this.hls) {
      const d = this.hls.playingDate;
      return d ? d.getTime() : null;
    }
    const start = v.getStartDate?.();
    if (start && !isNaN(start.getTime())) return start.getTime() + v.currentTime * 1000;
    return null;
  }

  // seekMedia moves a replay to a time of the media clock.
  seekMedia(t) {
    const v = this.el;
    if (this.hls) {
      const details = this.hls.levels[Math.max(0, this.hls.currentLevel)]?.details;
      const frags = details?.fragments || [];
      let f = null;
      for (const x of frags) if (x.programDateTime != null && x.programDateTime <= t) f = x;
      if (f) v.currentTime = f.start + (t - f.programDateTime) / 1000;
      else if (frags[0]) v.currentTime = frags[0].start;
      return;
    }
    const start = v.getStartDate?.();
    if (start && !isNaN(start.getTime())) v.currentTime = Math.max(0, (t - start.getTime()) / 1000);
  }

  watchFrames() {
    const v = this.el;
    if ('requestVideoFrameCallback' in HTMLVideoElement.prototype) {
      const cb = (now, md) => {
        this.frame(now, md);
        v.requestVideoFrameCallback(cb);
      };
      v.requestVideoFrameCallback(cb);
    } else {
      let last = -1;
      setInterval(() => {
        if (v.currentTime !== last) {
          last = v.currentTime;
          this.frame(performance.now(), null);
        }
      }, 50);
    }
  }

  frame(now, md) {
    if (this.transport === 'whep') {
      // The frame's media time: when its last packet arrived here, on the
      // server's clock, less the network's one-way delay (the server
      // forwards frames as they are ingested). Without receiveTime:
      // presentation time less the jitter buffer.
      const recv = md?.receiveTime ?? now - this.latency.jitterBuffer;
      this.frameMedia = performance.timeOrigin + recv + this.clock.offset - this.latency.oneWay;
    }
    this.frames++;
    this.lastFrameWall = performance.now();
    if (this.frames === 1 || !this.started) {
      this.started = true;
      this.onPlaying?.(this.transport);
    }
    this.onFrame?.();
  }
}
