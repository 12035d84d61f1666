// The Fleet charts on the page: the status flow's range buttons, the timeline's running bars growing as time passes, and a bar's text shown under the lanes on hover or focus. The charts themselves come drawn in the page (and in each live swap).
import { HTTP, byId } from './dom.ts';
import { lanesFromPage, lanesHtml } from './charts-timeline.ts';

/** The range the operator picked; the server's HTML always shows 24 h, so a swap puts the choice back. */
let range = '24h';

/** Shows the range's panel and presses its button. */
function showRange(): void {
  const flow = byId('fleet-flow', HTMLElement);
  if (flow === null) return;
  flow.querySelector<HTMLElement>('.ch-ranges')?.removeAttribute('hidden');
  for (const b of flow.querySelectorAll<HTMLButtonElement>('.ch-ranges button')) b.setAttribute('aria-pressed', String(b.dataset.range === range));
  for (const p of flow.querySelectorAll<HTMLElement>('.flow-range')) p.hidden = p.dataset.range !== range;
}

/** Redraws the timeline's lanes at this moment while a run is in flight: its bar reaches now. Focus stays on the bar it was on. */
function grow(): void {
  const wrap = document.querySelector<HTMLElement>('#fleet-timeline .tl-wrap');
  if (wrap === null || wrap.querySelector('a[data-o="running"]') === null) return;
  const focused = wrap.contains(document.activeElement) ? document.activeElement?.id : undefined;
  wrap.innerHTML = lanesHtml(lanesFromPage(wrap), Date.now());
  if (focused) document.getElementById(focused)?.focus();
}

/** The bar under the pointer or the focus, said in words under the lanes (its title is the tooltip too). */
function detail(e: Event): void {
  const a = e.target instanceof Element ? e.target.closest('#fleet-timeline a[aria-label]') : null;
  const out = document.querySelector('#fleet-timeline .tl-detail');
  if (a !== null && out !== null) out.textContent = a.getAttribute('aria-label');
}

/** After a live swap brought a new Fleet section: the picked range again. */
export function chartsSwapped(): void {
  showRange();
}

/** Wires the charts once; listeners sit on the document, so sections swapped in later work too. */
export function startCharts(): void {
  showRange();
  document.addEventListener('click', (e) => {
    const b = e.target instanceof Element ? e.target.closest<HTMLButtonElement>('#fleet-flow .ch-ranges button') : null;
    if (b === null) return;
    range = b.dataset.range ?? '24h';
    showRange();
  });
  // An SVG link follows Enter by itself in some browsers only: follow it here in all.
  document.addEventListener('keydown', (e) => {
    const a = e.target instanceof SVGAElement && e.target.closest('#fleet-timeline') !== null ? e.target : null;
    const href = a?.getAttribute('href');
    if (e.key !== 'Enter' || !href) return;
    e.preventDefault();
    location.assign(href);
  });
  document.addEventListener('mouseover', detail);
  document.addEventListener('focusin', detail);
  // Only a served page is live: a copy built to files (build out=) shows the runs as they were then.
  if (HTTP) setInterval(grow, 2000);
}
