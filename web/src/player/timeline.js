// The timeline shows each event when the frame on screen reaches its
// "at": events wait in seq order until mediaNow() >= at. With no clock (no
// video playing: before the live, after it) they show at once; none waits
// longer than maxHold, whatever the clocks say.
export class Timeline {
  constructor(mediaNow, apply, { maxHold = 15000 } = {}) {
    this.mediaNow = mediaNow;
    this.apply = apply;
    this.maxHold = maxHold;
    this.queue = [];
  }

  push(env, { now = false } = {}) {
    if (now) {
      this.apply(env, this.mediaNow());
      return;
    }
    env._t = Date.parse(env.at);
    env._recv = performance.now();
    this.queue.push(env);
    this.tick();
  }

  tick() {
    if (this.queue.length === 0) return;
    const now = this.mediaNow();
    const wall = performance.now();
    while (this.queue.length) {
      const e = this.queue[0];
      const due = now == null || isNaN(e._t) || e._t <= now || wall - e._recv > this.maxHold;
      if (!due) break;
      this.queue.shift();
      this.apply(e, now);
    }
  }

  flush() {
    const q = this.queue.splice(0);
    for (const e of q) this.apply(e, this.mediaNow());
  }
}
