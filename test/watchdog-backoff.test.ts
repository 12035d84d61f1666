// In-process: the watchdog's restart times under a fake clock (the clock and the heartbeat are the fakes; the watchdog is under test).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HeartbeatHealth, HeartbeatState } from '../lib/supervise/health.ts';
import { BACKOFF_MAX_MS, HEALTHY_RESET_MS, watchHeartbeat } from '../lib/supervise/watchdog.ts';

const POLL_MS = 250;
const MIN = 60_000;

function health(state: HeartbeatState, pid: number | null): HeartbeatHealth {
  return { state, pid: state === 'stopped' ? null : pid, stale: null, startedAt: null, beatAt: null, interval: 1, stuckAfter: null };
}

interface Script {
  /** The heartbeat's state at fake time t (ms), given the last restart's time (undefined before any). */
  readonly state: (t: number, lastRestart: number | undefined) => HeartbeatState | 'paused';
  /** The watchdog is stopped once the fake clock passes this. */
  readonly until: number;
  /** True: every restart fails (ensure threw). */
  readonly failing?: boolean;
  /** True at fake times when someone else (an operator's ensure) has just started the heartbeat: a restart then finds it running. */
  readonly startedByOther?: (t: number) => boolean;
}

/** Runs the watchdog on a fake clock that moves only when it waits; returns the fake times of its restarts and its log. */
async function drive(s: Script): Promise<{ restarts: number[]; log: string[] }> {
  let t = 0;
  const restarts: number[] = [];
  const log: string[] = [];
  const ac = new AbortController();
  let pid = 100;
  const last = (): number | undefined => restarts[restarts.length - 1];
  // A watchdog that waits on the real clock would never see the fake one move: it is cut off.
  const guard = setTimeout(() => ac.abort(), 5000);
  await watchHeartbeat({
    check: () => {
      const st = s.state(t, last());
      return health(st === 'paused' ? 'stopped' : st, pid);
    },
    restart: async () => {
      restarts.push(t);
      if (s.failing) throw new Error('ensure failed');
      return { pid: ++pid, started: !(s.startedByOther?.(t) ?? false) };
    },
    paused: () => s.state(t, last()) === 'paused',
    logTail: () => '',
    log: (line) => log.push(line),
    now: () => t,
    signal: ac.signal,
    pollMs: POLL_MS,
    wait: async (ms) => {
      t += ms;
      if (t > s.until) ac.abort();
    },
  });
  clearTimeout(guard);
  return { restarts, log };
}

/** The restart times of a heartbeat that dies at once every time: 0, then 1 s doubling to 60 s. */
function expectedSchedule(count: number, from = 0): number[] {
  const out: number[] = [];
  let at = from;
  for (let i = 0; i < count; i++) {
    out.push(at);
    at += Math.min(BACKOFF_MAX_MS, 1000 * 2 ** i);
  }
  return out;
}

describe('the watchdog\'s backoff, on a fake clock', () => {
  test('a heartbeat that dies at start: restarted at once, then after 1, 2, 4 … s, never more than 60 s apart', async () => {
    const { restarts, log } = await drive({ state: () => 'stopped', until: 10 * MIN });
    // 0, 1, 3, 7, 15, 31, 63, 123 s, then every 60 s.
    assert.deepEqual(restarts.slice(0, 10), [0, 1000, 3000, 7000, 15_000, 31_000, 63_000, 123_000, 183_000, 243_000]);
    assert.deepEqual(restarts, expectedSchedule(restarts.length));
    assert.equal(restarts.length, 15, 'ten fake minutes: 7 doubling waits, then one a minute');
    assert.match(log[0] ?? '', /\(restart 1; the next one waits at least 1 s\)/);
    assert.match(log[6] ?? '', /\(restart 7; the next one waits at least 60 s\)/);
  });

  test('a restart that fails backs off the same way', async () => {
    const { restarts, log } = await drive({ state: () => 'stopped', until: 2 * MIN, failing: true });
    assert.deepEqual(restarts, expectedSchedule(restarts.length));
    assert.deepEqual(restarts.slice(0, 4), [0, 1000, 3000, 7000]);
    assert.match(log[1] ?? '', /could not restart the heartbeat .*: ensure failed; trying again in 2 s/);
  });

  test('a stuck heartbeat is replaced on the same schedule', async () => {
    const { restarts } = await drive({ state: () => 'stuck', until: MIN });
    assert.deepEqual(restarts, expectedSchedule(restarts.length));
    assert.deepEqual(restarts, [0, 1000, 3000, 7000, 15_000, 31_000]);
  });

  test('10 healthy minutes reset the backoff; 9 do not', async () => {
    // Dies at start three times (0, 1, 3 s), then the fourth heartbeat runs for `healthy` and dies; later ones die at start.
    const run = (healthy: number): Promise<{ restarts: number[] }> => drive({
      until: 3000 + healthy + 16_000,
      state: (t, lastRestart) => {
        if (lastRestart === 3000) return t < 3000 + healthy ? 'running' : 'stopped';
        return 'stopped';
      },
    });
    // Healthy time counts from the first poll that sees it running, so a second more than 10 minutes.
    const reset = (await run(HEALTHY_RESET_MS + 1000)).restarts;
    const died = 3000 + HEALTHY_RESET_MS + 1000;
    assert.deepEqual(reset, [0, 1000, 3000, died, died + 1000, died + 3000, died + 7000, died + 15_000], 'after 10 healthy minutes: at once, then 1 s, 2 s …');
    const short = HEALTHY_RESET_MS - MIN;
    const noReset = (await run(short)).restarts;
    const died2 = 3000 + short;
    assert.deepEqual(noReset, [0, 1000, 3000, died2, died2 + 8000], 'after 9 healthy minutes: the 4th restart at once (its wait is long over), the 5th 8 s later');
  });

  test('while stopped on purpose nothing restarts, and the time stopped is not healthy time', async () => {
    // Dies at start three times, runs 6 minutes, is stopped on purpose for 5, is started again by
    // the operator (ensure), runs a second and dies; later ones die at start.
    const back = 3000 + 11 * MIN;
    const died = back + 1000;
    const { restarts } = await drive({
      until: died + 16_000,
      state: (t, lastRestart) => {
        if (lastRestart !== 3000) return 'stopped';
        if (t < 3000 + 6 * MIN) return 'running';
        if (t < back) return 'paused';
        return t < died ? 'running' : 'stopped';
      },
    });
    // 6 + 1 healthy minutes are not 10: the restart after it is the 4th (at once), the 5th waits 8 s.
    assert.deepEqual(restarts, [0, 1000, 3000, died, died + 8000]);
  });

  test('a heartbeat an operator\'s ensure started is neither reported nor counted as a restart', async () => {
    // Dies at start twice (0, 1 s), then runs; stopped at 60 s and, as the watchdog polls, an
    // operator's ensure has just started it again (the watchdog's ensure finds it running); it runs
    // until 120 s and dies. Only the restarts at 0, 1 and 120 s are the watchdog's.
    const { restarts, log } = await drive({
      until: 125_000,
      startedByOther: (t) => t === 60_000,
      state: (t, lastRestart) => {
        if (lastRestart === undefined || lastRestart === 0) return 'stopped';
        if (t < 60_000) return 'running';
        if (t === 60_000) return lastRestart === 60_000 ? 'running' : 'stopped';
        return t < 120_000 ? 'running' : 'stopped';
      },
    });
    assert.deepEqual(restarts, [0, 1000, 60_000, 120_000, 124_000]);
    assert.equal(log.length, 4, log.join('\n'));
    assert.ok(log.every((l) => !l.includes('as pid 103')), 'the heartbeat the operator started is not called a restart');
    assert.match(log[2] ?? '', /as pid 104: pid 103 is gone \(restart 3; the next one waits at least 4 s\)/);
    assert.match(log[3] ?? '', /\(restart 4; the next one waits at least 8 s\)/);
  });
});
