// The dashboard's client script (bundled by esbuild into app.js): the view, ages, the Fleet charts, live updates and moving cards on the board.
import { refreshAges } from './ages.ts';
import { remember, startLive, whenServed } from './live.ts';
import { enableMoves } from './move.ts';
import { startView } from './view.ts';
import { startCharts } from './charts.ts';

/** Wires everything from here, with no inline handlers or styles, so the pages run under a strict Content-Security-Policy. */
function start(): void {
  // The "being built" page has nothing to show yet: it only waits for the build and reloads.
  if (document.querySelector('main[data-building]') !== null) return startLive();
  remember(document); // first: the regions as served, before the view hides rows or marks sorted columns
  startView();
  startCharts();
  refreshAges();
  setInterval(refreshAges, 5000);
  whenServed(enableMoves);
  startLive();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
