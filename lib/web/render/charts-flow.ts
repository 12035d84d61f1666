// The queue and status flow chart of the index's Fleet section: tasks by status over 24 h, 7 d or 30 d, stacked (a cumulative flow), with the dispatchable queue as a line.
import { esc } from '../client/rows.ts';
import { type ChartTick, DAY, axis, num, own, plural, tableAlt, utcMinute } from '../client/charts-data.ts';

/** The ranges: the first shows without script; the page's buttons switch. Each is cut into this many columns. */
export const RANGES = [
  { key: '24h', label: '24 h', ms: DAY, buckets: 48 },
  { key: '7d', label: '7 d', ms: 7 * DAY, buckets: 56 },
  { key: '30d', label: '30 d', ms: 30 * DAY, buckets: 60 },
] as const;

const W = 600;
const H = 100;
/** Colours the stack has (s0…s7 in style.css); more statuses than that share them in turn. */
const COLOURS = 8;

/** Ticks with their times parsed once, oldest first (history comes so: the sort is a check in the common case). */
type Timed = readonly { readonly t: ChartTick; readonly at: number }[];
function timedOf(ticks: readonly ChartTick[]): Timed {
  const timed = ticks.map((t) => ({ t, at: Date.parse(t.at) }));
  if (timed.some((x, i) => i > 0 && x.at < (timed[i - 1] as { at: number }).at)) timed.sort((a, b) => a.at - b.at);
  return timed;
}

/** The last tick of each column of a range (undefined where the heartbeat recorded none). */
export function columnsOf(ticks: readonly ChartTick[] | Timed, now: number, ms: number, buckets: number): (ChartTick | undefined)[] {
  const timed: Timed = ticks.length > 0 && 'counts' in (ticks[0] as object) ? timedOf(ticks as readonly ChartTick[]) : (ticks as Timed);
  const first = now - ms;
  const out: (ChartTick | undefined)[] = new Array<ChartTick | undefined>(buckets).fill(undefined);
  // From the first tick of the range on (bisection): the 24 h range of 30 days reads a thirtieth.
  let lo = 0;
  for (let hi = timed.length; lo < hi;) {
    const mid = (lo + hi) >>> 1;
    if ((timed[mid] as { at: number }).at <= first) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < timed.length; i++) {
    const { t, at } = timed[i] as { t: ChartTick; at: number };
    if (at > now) break;
    out[Math.min(buckets - 1, Math.floor(((at - first) / ms) * buckets))] = t;
  }
  return out;
}

/** A tick's count of a status (0 when it has none of its own: a status named `constructor` is counted, never read off Object). */
const countOf = (t: ChartTick, status: string): number => own(t.counts, status) ?? 0;
const total = (t: ChartTick, statuses: readonly string[]): number => statuses.reduce((n, s) => n + countOf(t, s), 0);

/** One range: the stacked columns, the dispatchable line, a sentence on how it moved, and the columns as a table. */
function rangePanel(range: (typeof RANGES)[number], ticks: Timed, now: number, stack: readonly string[], word: (s: string) => string, shown: boolean): string {
  const cols = columnsOf(ticks, now, range.ms, range.buckets);
  const filled = cols.flatMap((t, i) => (t === undefined ? [] : [{ t, i }]));
  const attrs = `class="flow-range" id="flow-${range.key}" data-range="${range.key}"${shown ? '' : ' hidden'}`;
  if (filled.length === 0) return `<div ${attrs}><p class="none">No ticks recorded in the last ${range.label}.</p></div>`;
  const max = Math.max(1, ...filled.map(({ t }) => Math.max(total(t, stack), t.ready)));
  const bw = W / range.buckets;
  const y = (v: number): number => H - (v / max) * (H - 4);
  const paths = stack.map((status, k) => {
    let d = '';
    for (const { t, i } of filled) {
      const below = total(t, stack.slice(0, k));
      const v = countOf(t, status);
      if (v > 0) d += `M${num(i * bw)} ${num(y(below + v))}h${num(bw)}V${num(y(below))}h${num(-bw)}z`;
    }
    return d === '' ? '' : `<path class="s${k % COLOURS}" d="${d}"/>`;
  }).join('');
  const line = filled.map(({ t, i }) => `M${num(i * bw)} ${num(y(t.ready))}h${num(bw)}`).join('');
  const svg = `<svg class="ch-svg" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" aria-hidden="true" focusable="false">${paths}<path class="ch-line" d="${line}"/></svg>`;
  const first = (filled[0] as { t: ChartTick }).t;
  const last = (filled[filled.length - 1] as { t: ChartTick }).t;
  const now2 = stack.slice().reverse().filter((s) => countOf(last, s) > 0).map((s) => `${countOf(last, s)} ${word(s)}`);
  const queue = first === last ? `the dispatchable queue is ${last.ready}`
    : `the dispatchable queue went from ${first.ready} to ${last.ready} (${last.ready < first.ready ? 'draining' : last.ready > first.ready ? 'growing' : 'steady'})`;
  const sum = `<p class="ch-sum">At the last recorded tick, ${plural(total(last, stack), 'task')}${now2.length ? `: ${esc(now2.join(', '))}` : ''}; over the last ${range.label}, ${queue}.</p>`;
  const rows = filled.slice().reverse().map(({ t }) => [utcMinute(Date.parse(t.at)), ...stack.slice().reverse().map((s) => String(countOf(t, s))), String(t.ready)]);
  const table = tableAlt(`flow-${range.key}-table`, `The last ${range.label} as a table`, ['Time (UTC)', ...stack.slice().reverse().map(word), 'Dispatchable'], rows);
  const half = range.ms / 2 / 3_600_000;
  return `<div ${attrs}>${sum}${svg}${axis([`${range.label} ago`, half >= 48 ? `${half / 24} d ago` : `${half} h ago`, 'now'])}${table}</div>`;
}

/**
 * The figure: range buttons (hidden until the page's script shows them: without script the 24 h
 * view shows), a legend, and one panel per range. `order` is the statuses in lifecycle order; the
 * stack puts the last of them (completed, cancelled) at the bottom, as a cumulative flow does.
 */
export function flowFigure(ticks: readonly ChartTick[], now: number, order: readonly string[], word: (s: string) => string): string {
  const head = '<h3 id="fl-h">Queue and status flow</h3>';
  const seen = new Set<string>();
  for (const t of ticks) for (const [s, n] of Object.entries(t.counts)) if (s !== 'total' && n > 0) seen.add(s);
  if (seen.size === 0) return `<figure class="chart" id="fleet-flow" aria-labelledby="fl-h">${head}<p class="none">No ticks recorded in the last 30 d.</p></figure>`;
  const lifecycle = [...order.filter((s) => seen.has(s)), ...[...seen].filter((s) => !order.includes(s)).sort()];
  const stack = lifecycle.slice().reverse();
  const buttons = `<div class="ch-ranges" role="group" aria-label="Range" hidden>${RANGES.map((r, i) => `<button type="button" id="flow-b-${r.key}" data-range="${r.key}" aria-controls="flow-${r.key}" aria-pressed="${i === 0}">${r.label}</button>`).join('')}</div>`;
  const legend = `<ul class="ch-legend" aria-hidden="true">${lifecycle.map((s) => `<li><i class="sw s${stack.indexOf(s) % COLOURS}"></i>${esc(word(s))}</li>`).join('')}`
    + '<li><i class="sw ch-line"></i>dispatchable</li></ul>';
  const timed = timedOf(ticks);
  const panels = RANGES.map((r, i) => rangePanel(r, timed, now, stack, word, i === 0)).join('');
  return `<figure class="chart" id="fleet-flow" aria-labelledby="fl-h">${head}${buttons}${legend}${panels}</figure>`;
}
