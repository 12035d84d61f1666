// The notification queue: one delivery at a time per channel, in the background; a rate limit with one summary for the excess; retries with backoff; every result in a capped delivery log.
import type { Channel } from './notify-send.ts';
import { DeliveryLog, deliveryLine, seconds } from './notify-log.ts';
import { type Notice, type NoticeSource, noticeDocument } from './notify-message.ts';

/** Most notices a channel sends in a minute; the excess is dropped (the first of it logged) and summed up in one notice once the minute has room. */
export const RATE_PER_MINUTE = 10;
/** The waits before the second, third and fourth attempt; after the fourth fails the notice is given up. */
export const RETRY_DELAYS_MS: readonly number[] = [5000, 30_000, 120_000];
/** Most notices waiting per channel (a receiver down for long): the oldest beyond are dropped. */
const QUEUE_MAX = 200;
const MINUTE_MS = 60_000;

export interface NotifierOptions {
  readonly channels: readonly Channel[];
  readonly source: NoticeSource;
  /** The delivery log (capped, one rotated .1); undefined: results go to `log` only. */
  readonly logFile: string | undefined;
  readonly logMaxBytes: number;
  /** The daemon's own log: why the delivery log cannot be written, once. */
  readonly log: (line: string) => void;
  readonly now: () => Date;
  /** A notice is done with: delivered, given up or dropped on every channel (the ledger records it). */
  readonly onDone?: (key: string) => void;
  /** A notice is done with on one channel (named as Channel.name): a restart sends it on the others only. */
  readonly onChannelDone?: (key: string, channel: string) => void;
  /** The task's title, when known. */
  readonly titleOf?: (id: string) => string | undefined;
  readonly ratePerMinute?: number;
  /** The rate limit's window (default a minute; tests shorten it). */
  readonly windowMs?: number;
  readonly retryDelaysMs?: readonly number[];
  /** Attempts per notice (`notify test`: 1); default: one more than the retry delays. */
  readonly attempts?: number;
}

interface Item { readonly notice: Notice; readonly attempt: number }
interface Lane {
  readonly channel: Channel;
  readonly queue: Item[];
  busy: Promise<void> | undefined;
  /** When this minute's notices went out (first attempts only). */
  readonly sentAt: number[];
  held: { count: number; kinds: Record<string, number> } | undefined;
  summary: NodeJS.Timeout | undefined;
}

/** Per channel, one attempt at a time; notify() only queues, so no caller ever waits for a receiver. */
export class Notifier {
  private readonly lanes: Lane[];
  private readonly pending = new Map<string, number>();
  /** Timers of retries and summaries, with the notice a retry will send (logged as not sent when closing cuts it). */
  private readonly timers = new Map<NodeJS.Timeout, { lane: Lane; item: Item } | undefined>();
  /** Set by close(): no new notices or retries; the queues still drain within its grace. */
  private closing = false;
  private readonly deliveries: DeliveryLog;
  private closed = false;
  /** Aborted when close()'s grace is over: a request in flight is cut and a command's process group ended, so nothing outlives the heartbeat. */
  private readonly stopping = new AbortController();
  /** The result of the last attempt per channel, for `notify test`. */
  readonly results = new Map<string, { ok: boolean; reason: string }>();

  constructor(private readonly o: NotifierOptions) {
    this.deliveries = new DeliveryLog(o.logFile, o.logMaxBytes, o.log, o.now);
    this.lanes = o.channels.map((channel) => ({ channel, queue: [], busy: undefined, sentAt: [], held: undefined, summary: undefined }));
  }

  /** Queues a notice on every channel but those named in `skip` (they already have it) and returns at once. */
  notify(notice: Notice, skip?: ReadonlySet<string>): void {
    if (this.closing || this.lanes.length === 0) return;
    const lanes = this.lanes.filter((l) => !skip?.has(l.channel.name));
    if (lanes.length === 0) {
      this.pending.set(notice.key, 1);
      this.finish(notice.key);
      return;
    }
    this.pending.set(notice.key, (this.pending.get(notice.key) ?? 0) + lanes.length);
    for (const lane of lanes) this.admit(lane, notice);
  }

  /**
   * Stops retries and lets the queues drain for up to graceMs (a `heartbeat --once` still sends
   * its tick's notices); then cuts what is still in flight (the request aborted, the command's
   * process group ended: TERM, KILL a second later) and waits for it up to cutMs. What is left is
   * logged as not sent, and is not in the ledger, so the next start sends it. Nothing is written
   * to the delivery log after this returns.
   */
  async close(graceMs = 2000, cutMs = 1500): Promise<void> {
    this.closing = true;
    for (const [t, retry] of this.timers) {
      clearTimeout(t);
      if (retry) this.record('dropped', retry.item.notice, retry.lane, retry.item.attempt, 'retry not made: stopping (a later start sends it)');
    }
    this.timers.clear();
    let timer: NodeJS.Timeout | undefined;
    const drained = async (): Promise<void> => {
      for (let busy = this.lanes.find((l) => l.busy); busy; busy = this.lanes.find((l) => l.busy)) await busy.busy;
    };
    await Promise.race([drained(), new Promise<void>((r) => { timer = setTimeout(r, graceMs); })]);
    clearTimeout(timer);
    this.closed = true;
    if (this.lanes.some((l) => l.busy)) {
      this.stopping.abort();
      await Promise.race([drained(), new Promise<void>((r) => { timer = setTimeout(r, cutMs); })]);
      clearTimeout(timer);
    }
    for (const lane of this.lanes) {
      if (lane.summary) clearTimeout(lane.summary);
      for (const item of lane.queue.splice(0)) this.record('dropped', item.notice, lane, item.attempt, 'not sent: stopping (a later start sends it)');
      if (lane.held) this.record('dropped', { kind: 'rate-limited', key: 'rate-limited', id: null, count: lane.held.count, kinds: lane.held.kinds }, lane, 0, 'summary not sent: stopping');
    }
    this.deliveries.close();
  }

  private admit(lane: Lane, notice: Notice): void {
    const now = this.o.now().getTime();
    const windowMs = this.o.windowMs ?? MINUTE_MS;
    while (lane.sentAt.length && now - (lane.sentAt[0] as number) >= windowMs) lane.sentAt.shift();
    if (lane.sentAt.length >= (this.o.ratePerMinute ?? RATE_PER_MINUTE)) {
      // One line for the first held back, not one each: a burst must not push the log's real deliveries out of its cap.
      if (lane.held === undefined) this.record('dropped', notice, lane, 0, `rate limit (${this.o.ratePerMinute ?? RATE_PER_MINUTE} a minute): this notice and the next ones until the window has room are summed up in one notice`);
      lane.held ??= { count: 0, kinds: {} };
      lane.held.count += 1;
      lane.held.kinds[notice.kind] = (lane.held.kinds[notice.kind] ?? 0) + 1;
      this.finish(notice.key, lane);
      lane.summary ??= this.later(windowMs - (now - (lane.sentAt[0] as number)), () => this.summarize(lane));
      return;
    }
    lane.sentAt.push(now);
    this.enqueue(lane, { notice, attempt: 1 });
  }

  private summarize(lane: Lane): void {
    lane.summary = undefined;
    const held = lane.held;
    lane.held = undefined;
    if (!held || this.closing) return;
    lane.sentAt.push(this.o.now().getTime());
    const key = `rate-limited:${this.o.now().toISOString()}`;
    this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
    this.enqueue(lane, { notice: { kind: 'rate-limited', key, id: null, count: held.count, kinds: held.kinds }, attempt: 1 });
  }

  private enqueue(lane: Lane, item: Item): void {
    lane.queue.push(item);
    while (lane.queue.length > QUEUE_MAX) {
      const old = lane.queue.shift() as Item;
      this.record('dropped', old.notice, lane, old.attempt, `more than ${QUEUE_MAX} notices waiting for this channel`);
      this.finish(old.notice.key, lane);
    }
    lane.busy ??= this.pump(lane);
  }

  private async pump(lane: Lane): Promise<void> {
    // Never settled in the same turn: `lane.busy ??= this.pump(lane)` is assigned before the finally clears it.
    await Promise.resolve();
    try {
      while (!this.closed && lane.queue.length > 0) await this.attempt(lane, lane.queue.shift() as Item);
    } finally {
      lane.busy = undefined;
    }
  }

  private async attempt(lane: Lane, item: Item): Promise<void> {
    const { notice } = item;
    const doc = noticeDocument(notice, this.o.source, notice.id === null ? undefined : this.o.titleOf?.(notice.id), this.o.now());
    let result: { ok: boolean; reason: string };
    try {
      result = await lane.channel.send(doc, this.stopping.signal);
    } catch (err) {
      result = { ok: false, reason: `failed: ${(err as Error).message}` };
    }
    this.results.set(lane.channel.name, result);
    const delays = this.o.retryDelaysMs ?? RETRY_DELAYS_MS;
    const attempts = this.o.attempts ?? delays.length + 1;
    if (result.ok) {
      this.record('ok', notice, lane, item.attempt, result.reason);
    } else if (item.attempt < attempts && this.closing) {
      this.record('failed', notice, lane, item.attempt, `${result.reason}; not retried: stopping (a later start sends it)`);
      return;
    } else if (item.attempt < attempts) {
      const wait = delays[item.attempt - 1] ?? delays.at(-1) ?? 0;
      this.record('failed', notice, lane, item.attempt, `${result.reason}; next try in ${seconds(wait)}`);
      const next = { notice, attempt: item.attempt + 1 };
      this.later(wait, () => this.enqueue(lane, next), { lane, item: next });
      return;
    } else {
      this.record('failed', notice, lane, item.attempt, `${result.reason}; given up after ${item.attempt} attempt${item.attempt === 1 ? '' : 's'}`);
    }
    this.finish(notice.key, lane);
  }

  private finish(key: string, lane?: Lane): void {
    if (lane) this.safely(key, () => this.o.onChannelDone?.(key, lane.channel.name));
    const left = (this.pending.get(key) ?? 1) - 1;
    if (left > 0) {
      this.pending.set(key, left);
      return;
    }
    this.pending.delete(key);
    this.safely(key, () => this.o.onDone?.(key));
  }

  private safely(key: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.o.log(`${this.o.now().toISOString()} notify: recording ${JSON.stringify(key)} as sent failed: ${(err as Error).message}`);
    }
  }

  private later(ms: number, fn: () => void, retry?: { lane: Lane; item: Item }): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closing) fn();
    }, ms);
    t.unref();
    this.timers.set(t, retry);
    return t;
  }

  /** One delivery-log line (the format render-deliveries.ts reads back): time, result, kind, task id (JSON), channel, attempt, reason. */
  private record(result: 'ok' | 'failed' | 'dropped', n: Notice, lane: Lane, attempt: number, reason: string): void {
    this.deliveries.add(deliveryLine(this.o.now(), result, n.kind, n.id, lane.channel.name, attempt, reason));
  }
}

export { deliveryLine };
