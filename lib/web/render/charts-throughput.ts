// The throughput chart of the index's Fleet section: runs started and finished in each of the last 24 hours, with the share that succeeded.
import { type ChartRun, HOUR, axis, num, plural, tableAlt, utcMinute } from '../client/charts-data.ts';

const HOURS = 24;
/** Each hour is this wide in the drawing; its two bars and its success mark sit inside. */
const SLOT = 20;
const H = 100;

interface Hour { readonly at: number; started: number; finished: number; succeeded: number }

/** The last 24 clock hours (the current one last, still filling): what started, what ended and what of it succeeded. */
export function hoursOf(runs: readonly ChartRun[], now: number): Hour[] {
  const first = Math.floor(now / HOUR) * HOUR - (HOURS - 1) * HOUR;
  const hours: Hour[] = Array.from({ length: HOURS }, (_, i) => ({ at: first + i * HOUR, started: 0, finished: 0, succeeded: 0 }));
  const slot = (ms: number): Hour | undefined => (ms >= first && ms <= now ? hours[Math.floor((ms - first) / HOUR)] : undefined);
  for (const r of runs) {
    const s = slot(Date.parse(r.start));
    if (s !== undefined && r.outcome !== 'not_started') s.started++;
    if (r.outcome === 'running' || r.end === null) continue;
    const e = slot(Date.parse(r.end));
    if (e === undefined) continue;
    e.finished++;
    if (r.outcome === 'success') e.succeeded++;
  }
  return hours;
}

const pct = (part: number, whole: number): string => `${Math.round((100 * part) / whole)}%`;

/** The figure: started and finished bars per hour, the success rate as a mark per hour, a sentence with the totals, and the hours as a table. */
export function throughputFigure(runs: readonly ChartRun[], now: number): string {
  const hours = hoursOf(runs, now);
  const head = '<h3 id="tp-h">Throughput per hour</h3>';
  const started = hours.reduce((n, x) => n + x.started, 0);
  const finished = hours.reduce((n, x) => n + x.finished, 0);
  const succeeded = hours.reduce((n, x) => n + x.succeeded, 0);
  if (started + finished === 0) return `<figure class="chart" id="fleet-throughput" aria-labelledby="tp-h">${head}<p class="none">No run started or finished in the last 24 h.</p></figure>`;
  const max = Math.max(1, ...hours.map((x) => Math.max(x.started, x.finished)));
  const y = (v: number): number => H - (v / max) * (H - 6);
  const bars = (key: 'started' | 'finished', dx: number): string => hours.map((x, i) => (x[key] === 0 ? '' : `M${i * SLOT + dx} ${num(y(x[key]))}h7V${H}h-7z`)).join('');
  // The rate's own scale is 0 to 100% of the same height; an hour that finished nothing has no mark.
  const rate = hours.map((x, i) => (x.finished === 0 ? '' : `M${i * SLOT + 1} ${num(H - 3 - (x.succeeded / x.finished) * (H - 6))}h${SLOT - 2}`)).join('');
  const svg = `<svg class="ch-svg" viewBox="0 0 ${HOURS * SLOT} ${H}" preserveAspectRatio="none" aria-hidden="true" focusable="false">`
    + `<path class="ch-grid" d="M0 ${H - 0.5}H${HOURS * SLOT}"/><path class="tp-started" d="${bars('started', 3)}"/><path class="tp-finished" d="${bars('finished', 10)}"/>`
    + `<path class="ch-line" d="${rate}"/></svg>`;
  const busiest = hours.reduce((a, b) => (b.started > a.started ? b : a));
  const sum = `<p class="ch-sum">Last 24 h: ${plural(started, 'run')} started, ${finished} finished`
    + `${finished ? `, ${succeeded} of them succeeded (${pct(succeeded, finished)})` : ''}.`
    + `${busiest.started ? ` Busiest hour: ${utcMinute(busiest.at).slice(11)} UTC, ${busiest.started} started.` : ''}</p>`;
  const legend = `<ul class="ch-legend" aria-hidden="true"><li><i class="sw tp-started"></i>started</li><li><i class="sw tp-finished"></i>finished</li>`
    + `<li><i class="sw ch-line"></i>share succeeded (0–100%)</li><li class="ch-max">bars up to ${max} an hour</li></ul>`;
  const rows = hours.filter((x) => x.started + x.finished > 0).reverse()
    .map((x) => [utcMinute(x.at), String(x.started), String(x.finished), String(x.succeeded), x.finished ? pct(x.succeeded, x.finished) : '—']);
  const table = tableAlt('tp-table', 'The hours as a table', ['Hour (UTC)', 'Started', 'Finished', 'Succeeded', 'Success rate'], rows);
  return `<figure class="chart" id="fleet-throughput" aria-labelledby="tp-h">${head}${sum}${legend}${svg}${axis(['24 h ago', '12 h ago', 'now'])}${table}</figure>`;
}
