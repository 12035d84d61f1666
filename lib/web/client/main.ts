// The dashboard's client script (bundled by esbuild into app.js): the view, ages and live updates.
import { refreshAges } from './ages.ts';
import { remember, startLive } from './live.ts';
import { startView } from './view.ts';

/** Wires everything from here, with no inline handlers or styles, so the pages run under a strict Content-Security-Policy. */
function start(): void {
  // The "being built" page has nothing to show yet: it only waits for the build and reloads.
  if (document.querySelector('main[data-building]') !== null) return startLive();
  remember(document); // first: the regions as served, before the view hides rows or marks sorted columns
  startView();
  refreshAges();
  setInterval(refreshAges, 5000);
  startLive();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
