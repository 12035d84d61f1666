// The Fleet charts on the page: the status flow's range buttons, the timeline's running bars growing as time passes, its one tab stop moved by the arrow keys, and a bar's text shown under the lanes on hover or focus. The charts themselves come drawn in the page (and in each live swap).
import { HTTP, byId } from './dom.ts';
import { KEYS_ID, lanesFromPage, lanesHtml } from './charts-timeline.ts';

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

/** The element id of the bar holding the timeline's tab stop, once the operator moved it (a redraw or a swap keeps it there while that run is shown). */
let stop: string | undefined;

const timelineWrap = (): HTMLElement | null => document.querySelector<HTMLElement>('#fleet-timeline .tl-wrap');

/** Puts the tab stop on the bar with that id (when it is shown): the one bar with tabindex 0, and the one that points at the keys' description. */
function rove(id: string | undefined): void {
  const wrap = timelineWrap();
  const to = id === undefined ? null : wrap?.querySelector<SVGAElement>(`a[id="${id}"]`);
  if (wrap === null || to === null || to === undefined) return;
  for (const a of wrap.querySelectorAll<SVGAElement>('a[tabindex="0"]')) {
    a.setAttribute('tabindex', '-1');
    a.removeAttribute('aria-describedby');
  }
  to.setAttribute('tabindex', '0');
  to.setAttribute('aria-describedby', KEYS_ID);
}

/** Redraws the timeline's lanes at this moment while a run is in flight: its bar reaches now. Focus and the tab stop stay on the bar they were on. */
function grow(): void {
  const wrap = timelineWrap();
  if (wrap === null || wrap.querySelector('a[data-o="running"]') === null) return;
  const focused = wrap.contains(document.activeElement) ? document.activeElement?.id : undefined;
  wrap.innerHTML = lanesHtml(lanesFromPage(wrap), Date.now(), stop);
  if (focused) document.getElementById(focused)?.focus();
}

/** The bar an arrow key leads to: left and right along the lane, up and down to the next lane's run that started nearest in time, Home and End to the lane's first and last. */
function target(key: string, bar: SVGAElement): SVGAElement | undefined {
  const lanes = [...(timelineWrap()?.querySelectorAll('ol.tl > li.tl-lane') ?? [])].map((li) => [...li.querySelectorAll<SVGAElement>('a[data-s]')]);
  const lane = lanes.findIndex((bars) => bars.includes(bar));
  const here = lanes[lane] ?? [];
  const i = here.indexOf(bar);
  switch (key) {
    case 'ArrowRight': return here[i + 1];
    case 'ArrowLeft': return here[i - 1];
    case 'Home': return here[0];
    case 'End': return here[here.length - 1];
    case 'ArrowDown':
    case 'ArrowUp': {
      const step = key === 'ArrowDown' ? 1 : -1;
      const at = Number(bar.dataset.s);
      for (let l = lane + step; l >= 0 && l < lanes.length; l += step) {
        const bars = lanes[l] ?? [];
        if (bars.length) return bars.reduce((best, b) => (Math.abs(Number(b.dataset.s) - at) < Math.abs(Number(best.dataset.s) - at) ? b : best));
      }
      return undefined;
    }
    default: return undefined;
  }
}

/** The bar under the pointer or the focus, said in words under the lanes (its title is the tooltip too). */
function detail(e: Event): void {
  const a = e.target instanceof Element ? e.target.closest('#fleet-timeline a[aria-label]') : null;
  const out = document.querySelector('#fleet-timeline .tl-detail');
  if (a !== null && out !== null) out.textContent = a.getAttribute('aria-label');
}

/** A bar that got focus (arrow key, pointer, or a swap putting focus back) holds the tab stop from now on. */
function focused(e: Event): void {
  const a = e.target instanceof SVGAElement && e.target.closest('#fleet-timeline .tl-wrap') !== null ? e.target : null;
  if (a === null || !a.id) return;
  stop = a.id;
  rove(stop);
}

/** After a live swap brought a new Fleet section: the picked range again, and the tab stop where the operator left it. */
export function chartsSwapped(): void {
  showRange();
  rove(stop);
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
  document.addEventListener('keydown', (e) => {
    const a = e.target instanceof SVGAElement && e.target.closest('#fleet-timeline') !== null ? e.target : null;
    if (a === null) return;
    // An SVG link follows Enter by itself in some browsers only: follow it here in all.
    const href = a.getAttribute('href');
    if (e.key === 'Enter' && href) {
      e.preventDefault();
      location.assign(href);
      return;
    }
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
    const next = target(e.key, a);
    if (next === undefined) return;
    e.preventDefault();
    next.focus();
  });
  document.addEventListener('mouseover', detail);
  document.addEventListener('focusin', detail);
  document.addEventListener('focusin', focused);
  // Only a served page is live: a copy built to files (build out=) shows the runs as they were then.
  if (HTTP) setInterval(grow, 2000);
}
