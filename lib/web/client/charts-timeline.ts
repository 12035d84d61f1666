// The run timeline: one lane per task, a bar per run from its start to its end coloured by outcome, running bars up to now. The server draws it into the index; the page redraws the lanes as time passes, so running bars grow.
import { esc } from './rows.ts';
import { type ChartRun, DAY, OUTCOME_WORDS, axis, durationText, num, outcomeClass, outcomeWord, own, plural, runDomId, tableAlt, utcMinute } from './charts-data.ts';

/** Lanes shown: the tasks that ran most recently; the rest are counted. */
export const MAX_LANES = 20;
/** Bars per lane: a task's most recent runs (a lane is a row of the page, not a log). */
const MAX_BARS = 10;
/** Rows of the table alternative. */
const MAX_ROWS = 60;
/** The shortest span drawn: runs of a few seconds still get visible bars. */
const MIN_SPAN = 60_000;
const W = 1000;

/** One task's lane: its page (null when the task file is gone) and its runs, oldest first. */
export interface Lane { readonly id: string; readonly href: string | null; readonly runs: readonly ChartRun[] }

const startOf = (r: ChartRun): number => Date.parse(r.start);
const endOf = (r: ChartRun, now: number): number => (r.outcome === 'running' || r.end === null ? now : Date.parse(r.end));

/** A run's duration in seconds: the recorded one, or up to now while it runs. */
export function runSeconds(r: ChartRun, now: number): number | null {
  if (r.outcome === 'running') return Math.max(0, Math.round((now - startOf(r)) / 100) / 10);
  return r.durationS;
}

/** What a bar says to a screen reader and in its tooltip: the task, how the run ended, how long it took and its exit code. */
export function runLabel(r: ChartRun, now: number): string {
  const s = runSeconds(r, now);
  const took = s === null ? 'duration unknown' : durationText(s);
  if (r.outcome === 'running') return `${r.id}: running for ${took}, no exit code yet`;
  return `${r.id}: ${outcomeWord(r.outcome)}, ${took}, exit ${r.exit === null ? 'none' : r.exit}`;
}

/** The runs alive in the last 24 h, one lane per task, the task that started a run last first; `more` counts the tasks left out. */
export function lanesOf(runs: readonly ChartRun[], now: number, hrefOf: (id: string) => string | null): { lanes: Lane[]; more: number; runs: ChartRun[] } {
  const recent = runs.filter((r) => Number.isFinite(startOf(r)) && endOf(r, now) >= now - DAY && startOf(r) <= now);
  const byId = new Map<string, ChartRun[]>();
  for (const r of [...recent].sort((a, b) => startOf(a) - startOf(b))) {
    const list = byId.get(r.id);
    if (list === undefined) byId.set(r.id, [r]);
    else list.push(r);
  }
  const last = (list: readonly ChartRun[]): number => startOf(list[list.length - 1] as ChartRun);
  const ids = [...byId.keys()].sort((a, b) => last(byId.get(b) as ChartRun[]) - last(byId.get(a) as ChartRun[]) || (a < b ? -1 : 1));
  const lanes = ids.slice(0, MAX_LANES).map((id) => ({ id, href: hrefOf(id), runs: (byId.get(id) as ChartRun[]).slice(-MAX_BARS) }));
  return { lanes, more: ids.length - lanes.length, runs: recent };
}

/** The drawn span ends now and starts a little before the earliest bar shown (at most 24 h back, at least a minute). */
export function spanOf(lanes: readonly Lane[], now: number): number {
  let earliest = now;
  for (const lane of lanes) for (const r of lane.runs) earliest = Math.min(earliest, Math.max(startOf(r), now - DAY));
  return Math.min(DAY, Math.max(MIN_SPAN, (now - earliest) * 1.04));
}

/** The element that says how the keys move between bars; the bar holding the tab stop points at it. */
export const KEYS_ID = 'tl-keys';

/**
 * One bar: a link to the task's page with its label as its accessible name and tooltip; the data
 * attributes let the page redraw it. Only the bar holding the timeline's one tab stop is in the tab
 * order (the arrow keys move between the others), so up to 200 bars cost Tab one press.
 */
function bar(r: ChartRun, lane: Lane, from: number, span: number, now: number, stop: boolean): string {
  const s = Math.max(startOf(r), from);
  const x = ((s - from) / span) * W;
  const w = Math.min(W - x, Math.max(4, ((endOf(r, now) - s) / span) * W));
  const label = esc(runLabel(r, now));
  const link = lane.href === null ? ' role="img"' : ` href="${esc(lane.href)}"`;
  const tab = stop ? ` tabindex="0" aria-describedby="${KEYS_ID}"` : ' tabindex="-1"';
  const data = ` data-s="${startOf(r)}" data-e="${r.end === null ? '' : Date.parse(r.end)}" data-o="${esc(r.outcome)}" data-x="${r.exit ?? ''}" data-d="${r.durationS ?? ''}"`;
  return `<a id="${runDomId(r)}"${link}${tab} aria-label="${label}"${data}><title>${label}</title><rect class="${outcomeClass(r.outcome)}" x="${num(Math.min(x, W - 4))}" y="1" width="${num(w)}" height="8"/></a>`;
}

/** The lanes and their time axis: what the page replaces when it redraws. `stop`: the element id of the bar that keeps the tab stop (else the first bar has it). */
export function lanesHtml(lanes: readonly Lane[], now: number, stop?: string): string {
  const span = spanOf(lanes, now);
  const from = now - span;
  const ids = lanes.flatMap((l) => l.runs.map(runDomId));
  const tabStop = stop !== undefined && ids.includes(stop) ? stop : ids[0];
  const rows = lanes.map((lane) => `<li class="tl-lane" data-id="${esc(lane.id)}"${lane.href === null ? '' : ` data-href="${esc(lane.href)}"`}><span class="tl-id">${esc(lane.id)}</span>`
    + `<svg class="tl-bars" viewBox="0 0 ${W} 10" preserveAspectRatio="none" role="group" aria-label="${esc(`Runs of ${lane.id}`)}">${lane.runs.map((r) => bar(r, lane, from, span, now, runDomId(r) === tabStop)).join('')}</svg></li>`);
  const ago = (f: number): string => `${durationText((span * f) / 1000)} ago`;
  return `<ol class="tl" aria-label="Run timeline, one lane per task">${rows.join('')}</ol><div class="tl-lane tl-foot"><span></span>${axis([ago(1), ago(0.5), 'now'])}</div>`;
}

/** The figure: a sentence with the figures, the legend, the lanes, and the runs as a table. */
export function timelineFigure(runs: readonly ChartRun[], now: number, hrefOf: (id: string) => string | null): string {
  const { lanes, more, runs: recent } = lanesOf(runs, now, hrefOf);
  const head = '<h3 id="tl-h">Runs in the last 24 h</h3>';
  if (lanes.length === 0) return `<figure class="chart" id="fleet-timeline" aria-labelledby="tl-h">${head}<p class="none">No runs in the last 24 h.</p></figure>`;
  const tally = new Map<string, number>();
  for (const r of recent) tally.set(r.outcome, (tally.get(r.outcome) ?? 0) + 1);
  const parts = Object.keys(OUTCOME_WORDS).filter((o) => tally.has(o)).map((o) => `${tally.get(o)} ${outcomeWord(o)}`);
  const others = recent.length - [...tally.entries()].filter(([o]) => own(OUTCOME_WORDS, o) !== undefined).reduce((n, [, k]) => n + k, 0);
  if (others > 0) parts.push(`${others} other`);
  const shown = more > 0 ? ` The ${lanes.length} tasks that ran last are shown; ${plural(more, 'more task')} ran too.` : '';
  const sum = `<p class="ch-sum">${plural(recent.length, 'run')} of ${plural(lanes.length + more, 'task')}: ${esc(parts.join(', '))}.${shown}</p>`;
  const legend = `<ul class="ch-legend" aria-hidden="true">${Object.keys(OUTCOME_WORDS).map((o) => `<li><i class="sw ${outcomeClass(o)}"></i>${esc(outcomeWord(o))}</li>`).join('')}</ul>`;
  const rows = lanes.flatMap((l) => l.runs).sort((a, b) => startOf(b) - startOf(a)).slice(0, MAX_ROWS).map((r) => {
    const s = runSeconds(r, now);
    return [esc(r.id), esc(outcomeWord(r.outcome)), utcMinute(startOf(r)), s === null ? '—' : durationText(s), r.exit === null ? '—' : String(r.exit)];
  });
  const table = tableAlt('tl-table', 'The runs as a table', ['Task', 'Outcome', 'Started (UTC)', 'Duration', 'Exit'], rows);
  const keys = `<p id="${KEYS_ID}" hidden>Tab reaches one run of the timeline; the arrow keys move along a lane and between lanes, Home and End to a lane's first and last run, Enter opens the task.</p>`;
  return `<figure class="chart wide" id="fleet-timeline" aria-labelledby="tl-h">${head}${sum}${legend}<div class="tl-wrap">${lanesHtml(lanes, now)}</div>`
    + `<p class="tl-detail" aria-hidden="true"></p>${keys}${table}</figure>`;
}

/**
 * The lanes as drawn, read back from the page (the bars' data attributes), so the page can redraw
 * them at a later now. Only the list's items are lanes: the axis under them shares their layout
 * class but is no lane (read back, it became an empty lane more at each redraw).
 */
export function lanesFromPage(root: ParentNode): Lane[] {
  return [...root.querySelectorAll<HTMLElement>('ol.tl > li.tl-lane')].map((li) => {
    const id = li.dataset.id ?? '';
    const runs = [...li.querySelectorAll<SVGAElement>('a[data-s]')].map((a): ChartRun => {
      const d = a.dataset;
      const numOrNull = (v: string | undefined): number | null => (v === undefined || v === '' ? null : Number(v));
      const end = numOrNull(d.e);
      return { id, start: new Date(Number(d.s)).toISOString(), end: end === null ? null : new Date(end).toISOString(), exit: numOrNull(d.x), durationS: numOrNull(d.d), outcome: d.o ?? '' };
    });
    return { id, href: li.dataset.href ?? null, runs };
  });
}
