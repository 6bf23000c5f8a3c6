import { useState } from 'preact/hooks';
import { api } from './api.js';
import { Field, Notice } from './ui.jsx';

// SignIn trades the admin token for a session cookie (HttpOnly: the token
// is not kept by the page, nor in localStorage).
export function SignIn({ onSignedIn }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  document.title = 'Sign in · Vitrine console';
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const s = await api('POST', '/session', { token: token.trim() });
      setToken('');
      onSignedIn(s || {});
    } catch (err) {
      setError(err.status === 401 ? 'This token is not the admin token of this server.' : err.message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin" id="main">
      <form onSubmit={submit} class="card" aria-labelledby="signin-title">
        <h1 id="signin-title">Vitrine console</h1>
        <p>Sign in with this server's admin token: it is in <code>data/admin.token</code>, or in <code>VITRINE_ADMIN_TOKEN</code>.</p>
        <Notice kind="error">{error}</Notice>
        <Field label="Admin token">
          {(a) => (
            <input {...a} name="token" type="password" autocomplete="current-password" required value={token} onInput={(e) => setToken(e.currentTarget.value)} />
          )}
        </Field>
        <button type="submit" disabled={busy || !token.trim()}>{busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
    </main>
  );
}
