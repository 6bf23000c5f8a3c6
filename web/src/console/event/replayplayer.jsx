import { useEffect, useRef, useState } from 'preact/hooks';

// ReplayPlayer plays an HLS VOD (the replay, a product sequence) with
// hls.js, loaded on demand; Safari plays it natively. seekTo moves it.
export function ReplayPlayer({ src, seekTo, label }) {
  const ref = useRef(null);
  const [err, setErr] = useState('');
  useEffect(() => {
    const v = ref.current;
    let hls = null;
    let stopped = false;
    setErr('');
    (async () => {
      if (v.canPlayType('application/vnd.apple.mpegurl')) {
        v.src = src;
        return;
      }
      const Hls = (await import('hls.js/dist/hls.light.mjs')).default;
      if (stopped) return;
      hls = new Hls({ xhrSetup: (xhr) => (xhr.withCredentials = true) });
      hls.on(Hls.Events.ERROR, (_, d) => d.fatal && setErr('The video cannot be played: ' + (d.details || 'error')));
      hls.loadSource(src);
      hls.attachMedia(v);
    })();
    return () => {
      stopped = true;
      if (hls) hls.destroy();
    };
  }, [src]);
  useEffect(() => {
    const v = ref.current;
    if (seekTo && v) {
      const go = () => {
        v.currentTime = seekTo.t;
        v.play().catch(() => {});
      };
      if (v.readyState >= 1) go();
      else v.addEventListener('loadedmetadata', go, { once: true });
    }
  }, [seekTo]);
  return (
    <div class="replay-player">
      <video ref={ref} controls playsInline aria-label={label} />
      {err && <p class="error" role="alert">{err}</p>}
    </div>
  );
}
