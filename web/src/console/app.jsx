import { useEffect, useState } from 'preact/hooks';
import { LocationProvider, Router, Route, lazy, useLocation } from 'preact-iso';
import { api, setSignedOutHandler } from './api.js';
import { SignIn } from './signin.jsx';
import { CampaignList } from './campaigns.jsx';
import { CampaignForm } from './campaignform.jsx';
import { CampaignDetails } from './details.jsx';
import { Products, Vouchers } from './catalog.jsx';
import { Prepare } from './prepare.jsx';
import { Live } from './live.jsx';
import { Loading } from './ui.jsx';
import { Settings } from './settings.jsx';

// The event page (charts, the replay player) loads when first opened.
const EventPage = lazy(() => import('./event/event.jsx').then((m) => m.EventPage));

export const base = '/console';

export function App() {
  return (
    <LocationProvider>
      <Shell />
    </LocationProvider>
  );
}

// Shell checks the session once, then shows the sign-in page or the app.
function Shell() {
  const [session, setSession] = useState(undefined); // undefined: checking
  const loc = useLocation();
  useEffect(() => {
    setSignedOutHandler(() => setSession(null));
    api('GET', '/session').then(setSession, () => setSession(null));
  }, []);
  if (session === undefined) return <Loading label="Loading the console…" />;
  if (!session) return <SignIn onSignedIn={(s) => { setSession(s); if (loc.path.startsWith(base + '/sign-in')) loc.route(base + '/'); }} />;
  const signOut = async () => {
    try {
      await api('DELETE', '/session');
    } finally {
      setSession(null);
      loc.route(base + '/');
    }
  };
  return (
    <div class="app">
      <a class="skip" href="#main">Skip to content</a>
      <header class="topbar">
        <a class="brand" href={base + '/'}>Vitrine</a>
        <nav aria-label="Main">
          <NavLink href={base + '/'} label="Campaigns" match={(p) => p === base + '/' || p.startsWith(base + '/campaigns')} />
          <NavLink href={base + '/products'} label="Products" />
          <NavLink href={base + '/vouchers'} label="Vouchers" />
          <NavLink href={base + '/settings'} label="Settings" />
        </nav>
        <button type="button" class="secondary small" onClick={signOut}>Sign out</button>
      </header>
      <main id="main" tabIndex={-1}>
        <Router>
          <Route path={base + '/'} component={CampaignList} />
          <Route path={base + '/campaigns/new'} component={CampaignForm} />
          <Route path={base + '/campaigns/:id'} component={CampaignDetails} />
          <Route path={base + '/campaigns/:id/edit'} component={CampaignForm} />
          <Route path={base + '/campaigns/:id/clone'} component={CampaignForm} />
          <Route path={base + '/campaigns/:id/prepare'} component={Prepare} />
          <Route path={base + '/campaigns/:id/live'} component={Live} />
          <Route path={base + '/campaigns/:id/event'} component={EventPage} />
          <Route path={base + '/settings'} component={Settings} />
          <Route path={base + '/products'} component={Products} />
          <Route path={base + '/vouchers'} component={Vouchers} />
          <Route default component={NotFound} />
        </Router>
      </main>
    </div>
  );
}

function NavLink({ href, label, match }) {
  const { path } = useLocation();
  const current = match ? match(path) : path.startsWith(href);
  return (
    <a href={href} aria-current={current ? 'page' : undefined}>
      {label}
    </a>
  );
}

function NotFound() {
  return (
    <section>
      <h1>Not found</h1>
      <p>
        This page does not exist. <a href={base + '/'}>Back to the campaigns</a>.
      </p>
    </section>
  );
}

// useTitle names the browser tab after the screen.
export function useTitle(t) {
  useEffect(() => {
    document.title = t ? `${t} · Vitrine console` : 'Vitrine console';
  }, [t]);
}
