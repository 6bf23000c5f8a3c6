// The replay's controls: play/pause, a scrubber with the product chapters
// marked on it, the time (current / total), and the keyboard (space or k:
// play/pause; arrows: 5 s back or forward; Home/End; on the scrubber,
// PageUp/PageDown: the previous or next chapter). Positions are seconds
// into the replay (the <video>'s currentTime), the same as the chapters'
// offsets from the recording's first frame.
import './replaycontrols.css';
import { h } from '../lib/dom.js';
import { clockTime } from '../lib/format.js';

const STEP = 5;

export function replayControls(videoEl, { chapters = [], duration = NaN, onSeek } = {}) {
  const total = () => (isFinite(videoEl.duration) && videoEl.duration > 0 ? videoEl.duration : isFinite(duration) ? duration : 0);
  const playBtn = h('button', { type: 'button', class: 'vt-rc-play', 'aria-label': 'Play' }, h('span', { class: 'vt-rc-icon', 'aria-hidden': 'true' }));
  const fill = h('div', { class: 'vt-rc-fill' });
  const thumb = h('div', { class: 'vt-rc-thumb' });
  const marks = h('div', { class: 'vt-rc-marks' });
  const bar = h(
    'div',
    { class: 'vt-rc-bar', role: 'slider', tabindex: '0', 'aria-label': 'Position in the replay', 'aria-valuemin': '0', 'aria-valuemax': '0', 'aria-valuenow': '0', 'aria-valuetext': '0:00' },
    h('div', { class: 'vt-rc-track' }, fill),
    thumb,
  );
  // The chapter marks lie over the slider, not in it: buttons inside a
  // slider would be controls nested in a control.
  const time = h('span', { class: 'vt-rc-time', 'aria-hidden': 'true' }, '0:00 / 0:00');
  const el = h('div', { class: 'vt-rc', role: 'group', 'aria-label': 'Replay controls' }, playBtn, h('div', { class: 'vt-rc-scrub' }, bar, marks), time);

  const chapterAt = (t) => chapters.filter((c) => c.start <= t + 0.05 && (c.end == null || c.end > t)).pop();

  function seek(t) {
    const d = total();
    t = Math.max(0, d ? Math.min(t, d - 0.05) : t);
    videoEl.currentTime = t;
    update(t);
    onSeek?.(t);
  }

  function toggle() {
    if (videoEl.paused || videoEl.ended) videoEl.play().catch(() => {});
    else videoEl.pause();
  }

  function renderMarks() {
    marks.textContent = '';
    const d = total();
    if (!d) return;
    for (const c of chapters) {
      const name = c.product?.name || 'Product';
      const mark = h('button', {
        type: 'button',
        class: 'vt-rc-mark',
        tabindex: '-1',
        title: `${clockTime(c.start)} ${name}`,
        'aria-label': `Go to ${name} at ${clockTime(c.start)}`,
        'data-start': String(c.start),
        'data-product': c.product?.id || '',
        onpointerdown: (e) => e.stopPropagation(),
        onclick: (e) => {
          e.stopPropagation();
          seek(c.start);
        },
      });
      // CSSOM, not a style attribute: the page's CSP forbids inline styles.
      mark.style.left = `${Math.min(100, (c.start / d) * 100)}%`;
      marks.append(mark);
    }
  }

  let shownTotal = -1;
  let dragging = false;
  function update(t = videoEl.currentTime) {
    const d = total();
    if (d !== shownTotal) {
      shownTotal = d;
      bar.setAttribute('aria-valuemax', String(Math.round(d)));
      renderMarks();
    }
    const f = d ? Math.min(1, Math.max(0, t / d)) : 0;
    fill.style.width = `${f * 100}%`;
    thumb.style.left = `${f * 100}%`;
    bar.setAttribute('aria-valuenow', String(Math.round(t)));
    const ch = chapterAt(t);
    bar.setAttribute('aria-valuetext', `${clockTime(t)} of ${clockTime(d)}${ch ? `, ${ch.product?.name || 'product'}` : ''}`);
    time.textContent = `${clockTime(t)} / ${clockTime(d)}`;
    const paused = videoEl.paused || videoEl.ended;
    playBtn.setAttribute('aria-label', paused ? 'Play' : 'Pause');
    el.dataset.state = paused ? 'paused' : 'playing';
  }

  // Pointer: press anywhere on the bar, drag.
  const atPointer = (e) => {
    const r = bar.getBoundingClientRect();
    return (Math.min(Math.max(e.clientX - r.left, 0), r.width) / (r.width || 1)) * total();
  };
  bar.addEventListener('pointerdown', (e) => {
    if (!total()) return;
    dragging = true;
    bar.setPointerCapture?.(e.pointerId);
    seek(atPointer(e));
  });
  bar.addEventListener('pointermove', (e) => dragging && seek(atPointer(e)));
  const stop = () => (dragging = false);
  bar.addEventListener('pointerup', stop);
  bar.addEventListener('pointercancel', stop);

  playBtn.addEventListener('click', toggle);

  // Keys: on the page (not while typing in the chat), and on the slider.
  function onKey(e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    const tgt = e.target;
    const typing = tgt instanceof Element && (tgt.closest('input, textarea, select, [contenteditable=""], [contenteditable=true]') || tgt.closest('[role=dialog]'));
    if (typing) return;
    const onBar = tgt === bar;
    const onButton = tgt instanceof Element && !!tgt.closest('button, a, summary');
    const t = videoEl.currentTime;
    let handled = true;
    switch (e.key) {
      case ' ':
      case 'Spacebar':
        if (onButton) return; // the button's own click
        toggle();
        break;
      case 'k':
      case 'K':
        toggle();
        break;
      case 'ArrowLeft':
        seek(t - STEP);
        break;
      case 'ArrowRight':
        seek(t + STEP);
        break;
      case 'ArrowDown':
        if (!onBar) return;
        seek(t - STEP);
        break;
      case 'ArrowUp':
        if (!onBar) return;
        seek(t + STEP);
        break;
      case 'Home':
        seek(0);
        break;
      case 'End':
        seek(total());
        break;
      case 'PageUp': {
        if (!onBar) return;
        const prev = chapters.filter((c) => c.start < t - 1).pop();
        seek(prev ? prev.start : 0);
        break;
      }
      case 'PageDown': {
        if (!onBar) return;
        const next = chapters.find((c) => c.start > t + 0.5);
        if (next) seek(next.start);
        break;
      }
      default:
        handled = false;
    }
    if (handled) e.preventDefault();
  }
  document.addEventListener('keydown', onKey);

  const events = ['timeupdate', 'play', 'pause', 'ended', 'durationchange', 'loadedmetadata', 'seeked'];
  const onMedia = () => !dragging && update();
  for (const ev of events) videoEl.addEventListener(ev, onMedia);
  update();

  return {
    el,
    update,
    seek,
    setChapters(list) {
      chapters = list || [];
      shownTotal = -1;
      update();
    },
    destroy() {
      document.removeEventListener('keydown', onKey);
      for (const ev of events) videoEl.removeEventListener(ev, onMedia);
      el.remove();
    },
  };
}
