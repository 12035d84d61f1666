// Sending one notification through one channel, once: the notify= command (JSON on stdin, sh -c, its own process group, a deadline) or a JSON POST to notify_url=.
import { spawn } from 'node:child_process';
import { BOUNDED_MARKER } from '../base/bounded.ts';
import { isErrno } from '../base/errors.ts';
import { redactNotifyUrl } from '../base/notify-files.ts';
import type { NoticeDocument } from './notify-message.ts';

/** How one attempt ended; reason is for the delivery log (the URL's secret never in it). */
export interface Attempt {
  readonly ok: boolean;
  readonly reason: string;
}

/** One place notifications go: how it is named in logs and lines, and one attempt to deliver. */
export interface Channel {
  /** `command` or the URL as it may be shown (scheme://host/…). */
  readonly name: string;
  /** One attempt; `signal` aborts it (the heartbeat stops): the request is cut, the command's process group ended. */
  send(doc: NoticeDocument, signal?: AbortSignal): Promise<Attempt>;
}

/** A notify= command gets this long, then its whole process group is ended (TERM, then KILL a second later). */
export const COMMAND_TIMEOUT_MS = 30_000;
/** A notify_url= request gets this long for an answer. */
export const REQUEST_TIMEOUT_MS = 10_000;
const KILL_GRACE_MS = 1000;
/** Most bytes of a command's stderr or a receiver's answer kept for the reason (an answer is read no further). */
const REASON_BYTES = 2048;

/**
 * The notify= channel. The command runs under `sh -c` exactly as written, in the folder that holds
 * the tasks folder, with the event as one JSON document on its stdin and TASKS_EVENT (the kind)
 * and TASK_ID (empty without a task) in its environment: task text never reaches the command line.
 * Its own process group (a hanging command and what it started are ended together at the
 * deadline, or when the heartbeat stops) and the bounded marker (so `stop` ends one a killed
 * heartbeat left). `url`, the notify_url= also configured: a command that prints it (it has the
 * environment) does not put its secret in the delivery log.
 */
export function commandChannel(command: string, cwd: string, env: Readonly<Record<string, string | undefined>>, timeoutMs = COMMAND_TIMEOUT_MS, url?: string): Channel {
  const clean = (a: Attempt): Attempt => (url === undefined ? a : { ok: a.ok, reason: scrub(a.reason, url, redactNotifyUrl(url)) });
  return { name: 'command', send: async (doc, signal) => clean(await runCommand(command, cwd, env, doc, timeoutMs, signal)) };
}

function runCommand(command: string, cwd: string, env: Readonly<Record<string, string | undefined>>, doc: NoticeDocument, timeoutMs: number, signal: AbortSignal | undefined): Promise<Attempt> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve({ ok: false, reason: 'not run: stopping' });
      return;
    }
    const childEnv = { ...env, TASKS_EVENT: doc.event, TASK_ID: doc.id ?? '', [BOUNDED_MARKER]: String(process.pid) };
    let stderr = '';
    let timedOut = false;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const done = (a: Attempt): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(a);
    };
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn('/bin/sh', ['-c', command], { cwd, env: childEnv as NodeJS.ProcessEnv, detached: true, stdio: ['pipe', 'ignore', 'pipe'] });
    } catch (err) {
      done({ ok: false, reason: `the command could not be started: ${(err as Error).message}` });
      return;
    }
    const group = (sig: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch (err) {
        if (!isErrno(err, 'ESRCH')) throw err;
      }
    };
    const end = (): void => {
      group('SIGTERM');
      setTimeout(() => group('SIGKILL'), KILL_GRACE_MS).unref();
    };
    // Unref'd: the child's own handles keep the process up while it runs; a stopping heartbeat ends it through `signal`.
    timer = setTimeout(() => {
      timedOut = true;
      end();
    }, timeoutMs).unref();
    let stopped = false;
    function onAbort(): void {
      stopped = true;
      end();
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => done({ ok: false, reason: `the command could not be started: ${err.message}` }));
    child.stderr?.on('data', (chunk: Buffer) => {
      if (stderr.length < REASON_BYTES) stderr += chunk.toString('utf8');
    });
    // A command that does not read its stdin (or exits first) closes the pipe: that is its business, not a failure.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(`${JSON.stringify(doc)}\n`);
    // Its exit is the answer: a grandchild that keeps stderr open does not hold the delivery.
    child.on('exit', (code, signal) => {
      child.stderr?.destroy();
      if (stopped) done({ ok: false, reason: 'ended: stopping (its process group was ended)' });
      else if (timedOut) done({ ok: false, reason: `timed out after ${timeoutMs / 1000} s (its process group was ended)` });
      else if (code === 0) done({ ok: true, reason: 'exit 0' });
      else done({ ok: false, reason: `${code === null ? `killed by ${signal ?? 'a signal'}` : `exit ${code}`}${lastLine(stderr) ? `: ${lastLine(stderr)}` : ''}` });
    });
  });
}

/**
 * The notify_url= channel: a JSON POST (no redirect followed), a 2xx answer is a delivery. A
 * receiver that never answers costs its deadline, in the background. Reasons name the URL as
 * scheme://host/… only, and anything an error says about the URL is cut out of them.
 */
export function urlChannel(url: string, timeoutMs = REQUEST_TIMEOUT_MS): Channel {
  const shown = redactNotifyUrl(url);
  return {
    name: shown,
    send: async (doc, stop) => {
      // One controller for the deadline and the stop (not AbortSignal.any over AbortSignal.timeout: in node 20 a
      // scavenge can collect that timeout, and the request then waits for ever).
      const cut = new AbortController();
      const deadline = setTimeout(() => cut.abort(new DOMException('no answer', 'TimeoutError')), timeoutMs).unref();
      const onStop = (): void => cut.abort();
      stop?.addEventListener('abort', onStop, { once: true });
      try {
        const res = await fetch(url, {
          method: 'POST', redirect: 'manual', signal: cut.signal,
          headers: { 'content-type': 'application/json', 'user-agent': 'tasks-notify' },
          body: JSON.stringify(doc),
        });
        const body = await headOf(res, REASON_BYTES);
        if (res.status >= 200 && res.status < 300) return { ok: true, reason: `HTTP ${res.status}` };
        return { ok: false, reason: scrub(`HTTP ${res.status}${lastLine(body) ? `: ${lastLine(body)}` : ''}`, url, shown) };
      } catch (err) {
        const e = err as Error & { cause?: Error };
        const why = stop?.aborted ? 'cut: stopping' : e.name === 'TimeoutError' || e.name === 'AbortError' ? `no answer within ${timeoutMs / 1000} s` : `${e.message}${e.cause?.message ? `: ${e.cause.message}` : ''}`;
        return { ok: false, reason: scrub(why, url, shown) };
      } finally {
        clearTimeout(deadline);
        stop?.removeEventListener('abort', onStop);
      }
    },
  };
}

/** The first `max` bytes of an answer's body as text; the rest is never read (a receiver may answer with megabytes). */
async function headOf(res: Response, max: number): Promise<string> {
  const reader = res.body?.getReader();
  if (reader === undefined) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // A body cut short: what came is enough for a reason.
  } finally {
    reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}

/** A reason with the URL, and its path, query and credentials, replaced by what may be shown. */
export function scrub(reason: string, url: string, shown: string): string {
  let out = reason.split(url).join(shown);
  try {
    const u = new URL(url);
    for (const secret of [u.pathname + u.search, u.pathname, u.search, u.username, u.password, u.hash]) {
      if (secret.length > 1) out = out.split(secret).join('/…');
    }
  } catch {
    // A URL that does not parse was refused at start; nothing more to cut.
  }
  return out;
}

/** The last non-empty line of a text, at most 200 characters. */
function lastLine(text: string): string {
  const line = text.split('\n').map((l) => l.trim()).filter((l) => l !== '').at(-1) ?? '';
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}
