// The run duration chart of the index's Fleet section: the median duration of finished runs per hour (a young history) or per day (30 days), and its trend.
import { type ChartRun, DAY, HOUR, axis, durationText, median, num, plural, tableAlt, utcMinute } from '../client/charts-data.ts';

const SLOT = 20;
const H = 100;

interface Bucket { readonly at: number; readonly seconds: number[] }

/** Finished runs with a duration (a run that never started has none worth a median), ended in the last 30 days. */
function finished(runs: readonly ChartRun[], now: number): { end: number; s: number }[] {
  return runs.flatMap((r) => {
    if (r.outcome === 'running' || r.outcome === 'not_started' || r.end === null || r.durationS === null) return [];
    const end = Date.parse(r.end);
    return end > now - 30 * DAY && end <= now ? [{ end, s: r.durationS }] : [];
  });
}

/** Per hour over 24 h while every finished run is younger than that, else per UTC day over 30 days: the last bucket holds now. */
export function bucketsOf(runs: readonly ChartRun[], now: number): { hourly: boolean; buckets: Bucket[] } {
  const done = finished(runs, now);
  const hourly = done.every((x) => x.end > now - DAY);
  const size = hourly ? HOUR : DAY;
  const n = hourly ? 24 : 30;
  const first = Math.floor(now / size) * size - (n - 1) * size;
  const buckets: Bucket[] = Array.from({ length: n }, (_, i) => ({ at: first + i * size, seconds: [] }));
  for (const x of done) buckets[Math.floor((x.end - first) / size)]?.seconds.push(x.s);
  return { hourly, buckets };
}

/** How the recent half compares with the half before it, in words. */
function trend(recent: number | undefined, before: number | undefined, [a, b]: readonly [string, string]): string {
  if (recent === undefined || before === undefined || before === 0) return `Not enough finished runs to compare the ${a} with the ${b}.`;
  const change = Math.round((100 * (recent - before)) / before);
  const way = Math.abs(change) < 5 ? 'about the same as' : change < 0 ? `${-change}% shorter than` : `${change}% longer than`;
  return `The ${a}: ${durationText(recent)}, ${way} the ${b} (${durationText(before)}).`;
}

/** The figure: a bar per bucket up to its median, the overall median as a line, a sentence with the trend, and the buckets as a table. */
export function durationFigure(runs: readonly ChartRun[], now: number): string {
  const { hourly, buckets } = bucketsOf(runs, now);
  const head = '<h3 id="du-h">Median run duration</h3>';
  const all = buckets.flatMap((b) => b.seconds);
  const whole = hourly ? '24 h' : '30 d';
  if (all.length === 0) return `<figure class="chart" id="fleet-duration" aria-labelledby="du-h">${head}<p class="none">No run finished in the last 30 d.</p></figure>`;
  const medians = buckets.map((b) => median(b.seconds));
  const max = Math.max(...medians.map((m) => m ?? 0), 0.1);
  const y = (v: number): number => H - (v / max) * (H - 6);
  const bars = medians.map((m, i) => (m === undefined ? '' : `M${i * SLOT + 4} ${num(Math.min(y(m), H - 2))}h${SLOT - 8}V${H}h${8 - SLOT}z`)).join('');
  const overall = median(all) as number;
  const svg = `<svg class="ch-svg" viewBox="0 0 ${buckets.length * SLOT} ${H}" preserveAspectRatio="none" aria-hidden="true" focusable="false">`
    + `<path class="ch-grid" d="M0 ${H - 0.5}H${buckets.length * SLOT}"/><path class="du-bar" d="${bars}"/><path class="ch-line dash" d="M0 ${num(y(overall))}H${buckets.length * SLOT}"/></svg>`;
  const half = buckets.length >> 1;
  const recent = median(buckets.slice(-half).flatMap((b) => b.seconds));
  const before = median(buckets.slice(0, half).flatMap((b) => b.seconds));
  const halves = hourly ? (['last 12 h', '12 h before'] as const) : (['last 15 d', '15 d before'] as const);
  const sum = `<p class="ch-sum">Median of ${plural(all.length, 'finished run')} over the last ${whole}: ${durationText(overall)}. ${trend(recent, before, halves)}</p>`;
  const legend = `<ul class="ch-legend" aria-hidden="true"><li><i class="sw du-bar"></i>median ${hourly ? 'per hour' : 'per day'}</li>`
    + `<li><i class="sw ch-line"></i>median over ${whole}</li><li class="ch-max">bars up to ${durationText(max)}</li></ul>`;
  const rows = buckets.filter((b) => b.seconds.length > 0).reverse()
    .map((b) => [hourly ? utcMinute(b.at) : utcMinute(b.at).slice(0, 10), String(b.seconds.length), durationText(median(b.seconds) as number), durationText(Math.max(...b.seconds))]);
  const table = tableAlt('du-table', `The ${hourly ? 'hours' : 'days'} as a table`, [hourly ? 'Hour (UTC)' : 'Day (UTC)', 'Runs', 'Median', 'Longest'], rows);
  const labels = hourly ? ['24 h ago', '12 h ago', 'now'] : ['30 d ago', '15 d ago', 'today'];
  return `<figure class="chart" id="fleet-duration" aria-labelledby="du-h">${head}${sum}${legend}${svg}${axis(labels)}${table}</figure>`;
}
