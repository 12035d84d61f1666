// Live updates: server-sent events on /api/events say the version of this page on the server; a page whose own differs refetches itself and swaps in the regions that changed.
import { refreshAges } from './ages.ts';
import { HTTP, byId } from './dom.ts';
import { FILTERS } from './query.ts';
import { fetchTail, keepLog, onLogEvent, pageTaskId } from './runlog.ts';
import { apply, takeRows } from './view.ts';
import { chartsSwapped } from './charts.ts';
import { unpressed, watchPresses } from './press.ts';

/** The index's regions that the server re-renders; a task page is swapped as one `main`. */
const INDEX_REGIONS = ['#nav', '#health', '#counts', '#escalations', '#ready', '#held', '#claims', '#errors', '#fleet', '#milestones', '#decisions', '#docs', '#tasks tbody', ...FILTERS.map((f) => `#f-${f}`)];
/** Each region's HTML as last served, so an unchanged region is left alone (with its scroll, focus and hidden rows). */
const served = new Map<string, string>();
let busy = false;
let again = false;
/** Told at each hello: a tasks server serves this page (a static copy of the site has none). */
let onServed: () => void = () => undefined;
export function whenServed(f: () => void): void {
  onServed = f;
}
/** The version of the page as shown (its `<!--v:…-->` trailer); null: it carries none. */
let mine: string | null = null;

/** A document's version: the build ends each page with a comment `<!--v:…-->`, after `</html>`. */
export function versionOf(doc: Document): string | null {
  for (let n = doc.lastChild; n !== null; n = n.previousSibling) {
    if (n.nodeType === Node.COMMENT_NODE) {
      const m = /^v:([A-Za-z0-9_-]+)$/.exec(n.nodeValue ?? '');
      if (m) return m[1] as string;
    }
  }
  return null;
}

/** Marks the page as checked against the server: tests wait on it, and it shows in the inspector. */
function confirmed(): void {
  document.documentElement.dataset.liveVersion = mine ?? 'none';
}

function say(message: string): void {
  const live = byId('live', HTMLElement);
  if (live !== null) live.textContent = message;
}

function regions(): string[] {
  return document.querySelector('main[data-task-id], main[data-doc-id]') === null ? INDEX_REGIONS : ['main'];
}

/** Each `<details id>`'s open state as the server last sent it: a swap keeps the one the operator set unless the server changed its own. */
const servedOpen = new Map<string, boolean>();

/** Notes each region of a served document and its version; called on the page as loaded, before the view changes it. */
export function remember(doc: Document): void {
  for (const s of regions()) {
    const region = doc.querySelector(s);
    served.set(s, region?.outerHTML ?? '');
    for (const d of region?.querySelectorAll('details[id]') ?? []) servedOpen.set(d.id, d.hasAttribute('open'));
  }
  mine = versionOf(doc);
}

/**
 * Opens or closes each `<details id>` of a region about to be swapped in as the operator left the
 * one it replaces (a chart's table, the Notifications), unless the server changed what it sends
 * (the Notifications open when the newest delivery failed): then the server's state shows.
 */
function keepOpen(old: Element, fresh: Element): void {
  const before = new Map<string, boolean>();
  for (const d of old.querySelectorAll<HTMLDetailsElement>('details[id]')) before.set(d.id, d.open);
  for (const d of fresh.querySelectorAll<HTMLDetailsElement>('details[id]')) {
    const sent = d.hasAttribute('open');
    const was = before.get(d.id);
    if (was !== undefined && servedOpen.get(d.id) === sent) d.open = was;
    servedOpen.set(d.id, sent);
  }
}

/** How to find the focused element again after a swap replaced it: by its id, or, for a `<details id>`'s summary, through that id. */
function refocus(active: Element | null): (() => void) | undefined {
  const id = active?.id;
  if (id) return () => (document.getElementById(id) as HTMLElement | SVGElement | null)?.focus({ preventScroll: true });
  const details = active?.tagName === 'SUMMARY' ? active.parentElement : null;
  const holder = details instanceof HTMLDetailsElement ? details.id : '';
  if (holder) return () => document.getElementById(holder)?.querySelector<HTMLElement>(':scope > summary')?.focus({ preventScroll: true });
  return undefined;
}

/** Where the focused element is on screen, when it is in sight: the place a swap keeps it at. */
function placeOfFocus(): number | undefined {
  const el = document.activeElement;
  if (el === null || el === document.body || el === document.documentElement) return undefined;
  const r = el.getBoundingClientRect();
  return r.bottom > 0 && r.top < innerHeight ? r.top : undefined;
}

/**
 * Scrolls so the focused element is where it was before the swap: a region above it that grew or
 * shrank (the first tick's charts, a new escalation) does not push what the operator is on out of sight.
 */
function keepFocusAt(top: number | undefined): void {
  const el = document.activeElement;
  if (top === undefined || el === null || el === document.body) return;
  const moved = el.getBoundingClientRect().top - top;
  if (Math.abs(moved) >= 1) scrollBy(0, moved);
}

/** Replaces the regions whose served HTML changed, keeping scroll position (or the focused element's place), focus, open `<details id>` and the view's filters. */
function swap(doc: Document): void {
  const x = scrollX;
  const y = scrollY;
  const active = document.activeElement;
  const focusTop = placeOfFocus();
  const focusAgain = refocus(active);
  let rowsChanged = false;
  for (const s of regions()) {
    const mine = document.querySelector(s);
    const theirs = doc.querySelector(s);
    if (mine === null || theirs === null || served.get(s) === theirs.outerHTML) continue;
    served.set(s, theirs.outerHTML);
    // A select keeps its element (and its listener); only its options change.
    if (s.startsWith('#f-')) {
      mine.innerHTML = theirs.innerHTML;
      continue;
    }
    const log = byId('runlog-lines', HTMLPreElement);
    const fresh = document.importNode(theirs, true);
    keepOpen(mine, fresh);
    mine.replaceWith(fresh);
    if (s === 'main') keepLog(log);
    if (s === '#tasks tbody') rowsChanged = true;
    if (s === '#fleet') chartsSwapped();
  }
  if (doc.title) document.title = doc.title;
  if (rowsChanged) takeRows();
  apply();
  refreshAges();
  scrollTo(x, y);
  // By id, HTML or SVG alike (a timeline bar is an SVG link, a range button has one), or a summary through its details' id.
  if (active !== null && !document.contains(active)) focusAgain?.();
  keepFocusAt(focusTop);
}

/** Refetches this page; events that arrive meanwhile cause one more refetch, not one each. */
function refresh(): void {
  if (busy) {
    again = true;
    return;
  }
  busy = true;
  fetch(location.href, { cache: 'no-store' })
    .then((r) => {
      if (r.status === 404) {
        say('this page no longer exists');
        return null;
      }
      if (!r.ok) throw new Error(String(r.status));
      return r.text();
    })
    .then(async (html) => {
      if (html === null) return;
      await unpressed();
      const doc = new DOMParser().parseFromString(html, 'text/html');
      mine = versionOf(doc);
      swap(doc);
      say('live');
    })
    .catch(() => say('update failed; waiting for the next change'))
    .finally(() => {
      busy = false;
      if (again) {
        again = false;
        refresh();
      } else {
        confirmed();
      }
    });
}

/**
 * What `hello` (on every connection) and `change` say: the version of this page on the server
 * now. The page refetches itself only when that differs from its own (a change landed between its
 * load and the stream, or since); null means the server has no such page or cannot tell, so it
 * asks. A server without page versions sends none: every change refetches, as it always did.
 */
function heard(data: string, hello: boolean): void {
  let page: string | null | undefined;
  try {
    page = (JSON.parse(data) as { page?: string | null }).page;
  } catch {
    page = null;
  }
  if (page === undefined ? !hello : page === null || page !== mine) refresh();
  else if (!busy) confirmed();
}

/**
 * Listens to the server's events (over http only: no polling, and nothing to listen to under
 * file://). A task page also asks for its run log's new lines (`?log=<id>`).
 */
export function startLive(): void {
  if (!HTTP || typeof EventSource === 'undefined') return;
  const id = pageTaskId();
  const query = `page=${encodeURIComponent(location.pathname)}${id === null ? '' : `&log=${encodeURIComponent(id)}`}`;
  const events = new EventSource(`/api/events?${query}`);
  // The dashboard was still being built when this page was served: reload once the server has the page.
  if (document.querySelector('main[data-building]') !== null) {
    const ready = (e: Event): void => {
      try {
        if ((JSON.parse((e as MessageEvent<string>).data) as { page?: unknown }).page) location.reload();
      } catch {
        // not an event of ours: wait for the next one
      }
    };
    events.addEventListener('hello', ready);
    events.addEventListener('change', ready);
    events.addEventListener('error', () => say('reconnecting…'));
    return;
  }
  watchPresses();
  events.addEventListener('change', (e) => heard((e as MessageEvent<string>).data, false));
  // hello opens every (re)connection: a change (or log lines) may have landed between this page's load and now.
  events.addEventListener('hello', (e) => {
    heard((e as MessageEvent<string>).data, true);
    if (id !== null) fetchTail();
    onServed();
  });
  events.addEventListener('log', (e) => onLogEvent((e as MessageEvent<string>).data));
  events.addEventListener('open', () => say('live'));
  events.addEventListener('error', () => say('reconnecting…'));
}
