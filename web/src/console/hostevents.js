// The host's events socket (GET /api/v1/campaigns/{id}/events, with the
// session cookie): every event of the campaign, host-only ones included,
// from the first (since=0) so that the chat and the counters are whole,
// then the live tail; it reconnects by itself with since.

export function hostEvents(campaignId, onEvent, onStatus) {
  let since = 0;
  let ws = null;
  let closed = false;
  let retry = 0;
  let timer = null;
  const open = () => {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(`${proto}//${location.host}/api/v1/campaigns/${encodeURIComponent(campaignId)}/events?since=${since}`);
    ws.onopen = () => {
      retry = 0;
      onStatus('connected');
    };
    ws.onmessage = (m) => {
      let env;
      try {
        env = JSON.parse(m.data);
      } catch {
        return;
      }
      if (env.seq > since) since = env.seq;
      onEvent(env);
    };
    ws.onclose = () => {
      if (closed) return;
      onStatus('reconnecting');
      retry = Math.min(retry + 1, 6);
      timer = setTimeout(open, 500 * 2 ** retry);
    };
  };
  open();
  return () => {
    closed = true;
    clearTimeout(timer);
    if (ws) ws.close();
  };
}
