// `history`: the runs and ticks the heartbeat recorded since a time: one line per run and a summary, or `--json` ({"runs": [...], "ticks": [...]}).
import type { Options } from '../args.ts';
import type { Cli } from '../context.ts';
import { usageError } from '../../base/errors.ts';
import { escapeControls, quoteText } from '../../base/controls.ts';
import { formatDuration } from '../../manager/escalations.ts';
import type { HistoryData, RunRecord } from '../../manager/fleet-events.ts';
import { readHistory } from '../../manager/history.ts';
import { runningRuns } from '../../manager/history-read.ts';
import { SINCE_FORMS, sinceTime } from '../../manager/history-since.ts';
import { hostName, queueKey } from '../../manager/store.ts';

export async function run(o: Options, cli: Cli): Promise<number> {
  const now = new Date();
  const since = sinceTime(o.since, now);
  if (!since) throw usageError(`\`since\` must be ${SINCE_FORMS}, got \`${escapeControls(o.since ?? '')}\``);
  const host = hostName(cli.env);
  const data = o.registry === undefined ? readHistory({ dir: o.dir, owner: o.owner, since, now, host }) : await sharedHistory(o, host, since, now);
  if (o.json) {
    cli.out(JSON.stringify(data));
    return 0;
  }
  for (const r of data.runs) cli.out(runLine(r));
  cli.out(summary(data.runs, since));
  return 0;
}

/** With a shared registry: every host's runs of the queue and this host's ticks, from the database; this owner's runs in flight from its snapshot. */
async function sharedHistory(o: Options, host: string, since: Date, now: Date): Promise<HistoryData> {
  const { PgHistory } = await import('../../manager/history-pg.ts');
  const db = new PgHistory({ url: o.registry as string, queue: o.queue ?? await queueKey(o.dir), host, owner: o.owner });
  try {
    const data = await db.read(since);
    const keys = new Set(data.runs.map((r) => r.key));
    for (const r of runningRuns(o.dir, o.owner, now, host)) if (!keys.has(r.key)) data.runs.push(r);
    return data;
  } finally {
    await db.close();
  }
}

/** One run as a line: when it started, the task id (quoted when it holds a space or a control character), how it ended, how long, its exit. */
export function runLine(r: RunRecord): string {
  const duration = r.durationS === null ? '-' : formatDuration(r.durationS * 1000);
  const exit = r.exit === null ? '' : ` exit ${r.exit}`;
  const host = r.host ? ` on ${quoteText(r.host)}` : '';
  return `${r.start}  ${quoteText(r.id)}  ${r.outcome}  ${duration}${exit}${host}`;
}

/** The summary line: how many runs, how many of the ended ones succeeded, the median duration of the ended ones. */
export function summary(runs: readonly RunRecord[], since: Date): string {
  const ended = runs.filter((r) => r.outcome !== 'running');
  const running = runs.length - ended.length;
  const ok = ended.filter((r) => r.outcome === 'success').length;
  const rate = ended.length ? `${Math.round((ok / ended.length) * 100)}% succeeded (${ok} of ${ended.length})` : 'none ended';
  const durations = ended.map((r) => r.durationS).filter((d): d is number => d !== null).sort((a, b) => a - b);
  const median = durations.length ? `median duration ${formatDuration(medianOf(durations) * 1000)}` : 'no durations';
  return `${runs.length} run${runs.length === 1 ? '' : 's'} since ${since.toISOString()}${running ? ` (${running} running)` : ''}: ${rate}, ${median}`;
}

function medianOf(sorted: readonly number[]): number {
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
