// A task page's run log kept live: its tail fetched from the API, new lines appended from `log` events, lined up by byte offsets.
import { byId } from './dom.ts';
import { showLines } from './logtext.ts';

/** Lines the page keeps, as the server renders them. */
const KEEP = 200;

/** A `log` event (docs/api.md): the lines of bytes [from, to) of one log file. */
interface LogEvent { id: string; log: string; from: number; to: number; lines: string[]; partial: boolean }

/** What the page shows: the lines and where they end in which file; null until the first fetch. */
interface State { log: string; end: number; partial: boolean; truncated: boolean; lines: string[] }

let state: State | null = null;
let fetching = false;
let again = false;
/** Events that came before or during a fetch, applied once it is in. */
const queued: LogEvent[] = [];

/** The task this page shows, or null on the index. */
export function pageTaskId(): string | null {
  return document.querySelector<HTMLElement>('main[data-task-id]')?.dataset.taskId ?? null;
}

function render(): void {
  const pre = byId('runlog-lines', HTMLPreElement);
  if (pre === null || state === null) return;
  // Follow the end while the reader is there; leave someone reading further up alone.
  const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
  pre.textContent = showLines(state.lines);
  if (atEnd) pre.scrollTop = pre.scrollHeight;
  const n = state.lines.length;
  const count = byId('runlog-count', HTMLElement);
  if (count !== null) count.textContent = state.truncated ? `last ${n} lines` : `all ${n} line${n === 1 ? '' : 's'}`;
}

/** Fetches the tail again (at start, after a reconnect, or when an event does not line up); one at a time. */
export function fetchTail(): void {
  const id = pageTaskId();
  if (id === null) return;
  if (fetching) {
    again = true;
    return;
  }
  // No log on the page: none to fetch yet (a 404 would only fill the console); lines that come are kept.
  if (byId('runlog', HTMLElement) === null) {
    state ??= { log: '', end: 0, partial: false, truncated: false, lines: [] };
    for (const e of queued.splice(0)) apply(e);
    return;
  }
  fetching = true;
  fetch(`../api/tasks/${encodeURIComponent(id)}/log?tail=${KEEP}`, { cache: 'no-store' })
    .then((r) => {
      if (r.status === 404) return null;
      if (r.status === 503) {
        // The server is still building its task model (a page from its previous build is shown):
        // ask again when it says, not at the next event, which may be long in coming.
        const wait = Number(r.headers.get('retry-after'));
        setTimeout(fetchTail, Math.min(Number.isFinite(wait) && wait > 0 ? wait : 1, 30) * 1000);
        return undefined;
      }
      if (!r.ok) throw new Error(String(r.status));
      return r.json() as Promise<{ log: string; end: number; partial: boolean; truncated: boolean; lines: string[] }>;
    })
    .then((j) => {
      if (j === undefined) return;
      state = j === null ? { log: '', end: 0, partial: false, truncated: false, lines: [] }
        : { log: j.log, end: j.end, partial: j.partial, truncated: j.truncated, lines: j.lines };
      fetching = false;
      for (const e of queued.splice(0)) apply(e);
      render();
    })
    .catch(() => undefined) // the next event or reconnect tries again
    .finally(() => {
      fetching = false;
      if (again) {
        again = false;
        fetchTail();
      }
    });
}

/** Appends raw log text to the lines: the first piece continues a partial last line. */
function append(s: State, text: string): void {
  if (text === '') return;
  const pieces = text.split('\n');
  const whole = text.endsWith('\n');
  if (whole) pieces.pop();
  if (s.partial && s.lines.length > 0 && pieces.length > 0) s.lines[s.lines.length - 1] += pieces.shift() ?? '';
  s.lines.push(...pieces);
  s.partial = !whole;
  if (s.lines.length > KEEP) {
    s.lines.splice(0, s.lines.length - KEEP);
    s.truncated = true;
  }
}

/** Lines up an event with what the page has: skips what it has, fetches again over a gap. */
function apply(e: LogEvent): void {
  if (state === null || fetching) {
    // Bounded: past this, the fetch that is coming covers them anyway.
    if (queued.length < 500) queued.push(e);
    return;
  }
  if (e.log !== state.log) {
    // A rotated log continues in a new file from its first byte; anything else is a gap.
    if (e.from !== 0) return fetchTail();
    state.log = e.log;
    state.end = 0;
  }
  if (e.to <= state.end) return;
  if (e.from > state.end) return fetchTail();
  let text = e.lines.join('\n') + (e.partial ? '' : '\n');
  if (state.end > e.from) text = new TextDecoder().decode(new TextEncoder().encode(text).subarray(state.end - e.from));
  append(state, text);
  state.end = e.to;
  render();
}

/** Handles one `log` event's data. */
export function onLogEvent(data: string): void {
  const e = JSON.parse(data) as LogEvent;
  if (e.id === pageTaskId()) apply(e);
}

/**
 * After the page's `main` was swapped for a fresh copy: the live log is kept (with its scroll and
 * selection) unless the fresh page has newer lines or another file, which are then fetched.
 */
export function keepLog(old: HTMLPreElement | null): void {
  const fresh = byId('runlog-lines', HTMLPreElement);
  const section = byId('runlog', HTMLElement);
  if (fresh === null || section === null || state === null) return;
  if (section.dataset.log !== state.log || Number(section.dataset.end) > state.end) {
    fetchTail();
    return;
  }
  if (old !== null && old !== fresh) fresh.replaceWith(old);
  render();
}
