// The run history as the Fleet charts read it (the shapes /api/history serves), and the words, durations and buckets every chart shares; used by the server's renderers and the page.
import { esc } from './rows.ts';
import { shardOf } from './shards.ts';

/** One run, as /api/history serves it (manager/fleet-events.ts's RunRecord fits it). */
export interface ChartRun {
  readonly id: string;
  readonly start: string;
  readonly end: string | null;
  readonly exit: number | null;
  readonly durationS: number | null;
  readonly outcome: string;
  readonly key?: string;
}

/** One tick, as /api/history serves it (fleet-events.ts's TickRecord fits it). */
export interface ChartTick {
  readonly at: string;
  readonly counts: Readonly<Record<string, number>>;
  readonly ready: number;
  readonly running: number;
  readonly escalations: number;
}

export interface ChartData { readonly runs: readonly ChartRun[]; readonly ticks: readonly ChartTick[] }

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** How each outcome reads in a sentence; the keys are also the bars' classes (o-<outcome>). */
export const OUTCOME_WORDS: Readonly<Record<string, string>> = {
  success: 'succeeded', failed: 'failed', timed_out: 'timed out', interrupted: 'interrupted', not_started: 'never started', running: 'running',
};

/** A record's own value for a key: never one inherited from Object (a status or outcome named `constructor` or `__proto__` is text like any other). */
export const own = <T>(record: Readonly<Record<string, T>>, key: string): T | undefined => (Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined);

export const outcomeWord = (o: string): string => own(OUTCOME_WORDS, o) ?? o;
/** The class of an outcome: only known outcomes get a colour of their own (never raw text in a class). */
export const outcomeClass = (o: string): string => `o-${own(OUTCOME_WORDS, o) === undefined ? 'other' : o}`;

/** A duration in seconds as the charts say it: 0.8 s, 42 s, 3.5 min, 2.1 h. */
export function durationText(s: number): string {
  if (s < 10) return `${Math.round(s * 10) / 10} s`;
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 6) / 10} min`;
  return `${Math.round(s / 360) / 10} h`;
}

/** The middle value (the mean of the two middle ones for an even count); undefined for none. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}

/** A time as the tables say it, in UTC to the minute ("2026-12-07 06:30"): the same on the server and in every browser. */
export function utcMinute(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

/** A run's element id, from its task and start (what the page can read back from a bar): stable across rebuilds, so focus survives the live swaps. */
export function runDomId(r: ChartRun): string {
  return `run-${shardOf(`${r.id}@${Date.parse(r.start)}`, 0x40000000).toString(36)}`;
}

/** A number with 0 to 2 decimals for SVG coordinates: short and stable text. */
export const num = (x: number): string => String(Math.round(x * 100) / 100);

/** n of something in words: "1 run", "3 runs". */
export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** The HTML below a chart: time labels from the left edge to the right. */
export function axis(labels: readonly string[]): string {
  return `<div class="ch-axis" aria-hidden="true">${labels.map((l) => `<span>${esc(l)}</span>`).join('')}</div>`;
}

/**
 * A table in a details element: what a screen reader (or anyone) reads instead of the drawing.
 * Cells are HTML, escaped by the caller. The id lets a live swap keep the element open (and its
 * summary focused) when the chart is drawn again.
 */
export function tableAlt(id: string, summary: string, head: readonly string[], rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '';
  const th = head.map((x) => `<th scope="col">${esc(x)}</th>`).join('');
  const tr = rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th scope="row">${c}</th>` : `<td>${c}</td>`)).join('')}</tr>`).join('');
  return `<details class="ch-table" id="${id}"><summary>${esc(summary)}</summary><div class="scroll"><table><thead><tr>${th}</tr></thead><tbody>${tr}</tbody></table></div></details>`;
}
