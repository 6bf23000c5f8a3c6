// The seller's console: a single-page app over the admin API, served at
// /console/ by the binary. Preact (a 4 KB React-compatible library: the
// console has a dozen screens of forms and lists, and components with
// hooks keep each screen's state next to its markup) and preact-iso's
// router (History API under /console/).
import { render } from 'preact';
import { App } from './app.jsx';
import './console.css';

render(<App />, document.getElementById('console'));
