// Moving a card on the board: drag it to another column, or press M on it and pick a status; the server sets the task's status, only if the file is as the card showed it.
import { current, setStatus } from './data.ts';
import { HTTP, byId } from './dom.ts';
import { type StatusWords, esc, statusWord } from './rows.ts';

/** The token the server gives its own page (GET /api/token); undefined: this page cannot write (a `build out=` site, file://, or no server yet). */
let token: string | undefined;
/** A message on a card (a conflict, a refusal), by page name: shown until that card is moved again, and across redraws. */
const notes = new Map<string, string>();
/** The card being dragged: its page name and the version read when it was picked up. */
let dragging: { page: string; read: Promise<Read> } | undefined;
let words: () => StatusWords = () => ({});
let redraw: () => void = () => undefined;

/** What GET /api/tasks/<id>/version says: the file's version now and the status in those bytes, or why it cannot be read. */
type Read = { version: string; status: string } | { error: string };

function board(): HTMLElement | null {
  return byId('board', HTMLElement);
}

/** The task row a card shows. */
function rowOf(page: string): { id: string; status: string } | undefined {
  return current().rows.find((r) => r.page === page);
}

/** The one line of an error answer, else its status code. */
async function errorOf(r: Response): Promise<string> {
  try {
    const doc = (await r.json()) as { error?: unknown };
    if (typeof doc.error === 'string') return doc.error;
  } catch {
    // not JSON: the code says enough
  }
  return `HTTP ${r.status}`;
}

/** Reads the task's version when a card is picked up: the write carries it, so a change made after this is a conflict. */
async function readVersion(id: string): Promise<Read> {
  try {
    const r = await fetch(`/api/tasks/${encodeURIComponent(id)}/version`, { cache: 'no-store' });
    if (!r.ok) return { error: await errorOf(r) };
    return (await r.json()) as Read;
  } catch {
    return { error: 'the server did not answer' };
  }
}

/** Shows (or clears) a card's message; the card gets it as its description, so a screen reader hears it with the card. */
function note(page: string, text: string | undefined): void {
  if (text === undefined) notes.delete(page);
  else notes.set(page, text);
  const el = board();
  if (el !== null) decorate(el);
}

/**
 * Sets a card's status to a column's: with the version read at pick-up, only if the file still has
 * the status the card shows. On success the card moves at once (the live update follows); on a
 * conflict the card says what changed, and nothing is written.
 */
async function move(page: string, to: string, read: Promise<Read>): Promise<void> {
  const row = rowOf(page);
  if (row === undefined || row.status === to) return;
  note(page, undefined);
  const w = words();
  const got = await read;
  if ('error' in got) return note(page, `not moved: ${got.error}`);
  if (got.status !== row.status) return note(page, `changed since you loaded it: status ${statusWord(row.status, w)} → ${statusWord(got.status, w)}; nothing was written`);
  let r: Response;
  try {
    r = await fetch(`/api/tasks/${encodeURIComponent(row.id)}/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tasks-token': token ?? '' },
      body: JSON.stringify({ status: statusWord(to, w), version: got.version }),
    });
  } catch {
    return note(page, 'not moved: the server did not answer');
  }
  if (r.status === 409) {
    const doc = (await r.json().catch(() => ({}))) as { changes?: unknown };
    const changes = Array.isArray(doc.changes) && doc.changes.length ? doc.changes.join(', ') : 'the file';
    return note(page, `changed since you loaded it: ${changes}; nothing was written`);
  }
  if (!r.ok) return note(page, `not moved: ${await errorOf(r)}`);
  setStatus(page, to);
  const live = byId('live', HTMLElement);
  if (live !== null) live.textContent = `${row.id} moved to ${statusWord(to, w)}`;
}

/**
 * The statuses a card can go to: every status the folder has but the card's own. That is the
 * index's full list (data-statuses), those hidden while empty included (review, blocked and
 * cancelled have no column in our own format until a task is on them), then any other column the
 * tasks brought; not only the columns drawn.
 */
function targets(el: HTMLElement, from: string): string[] {
  const all = new Set((el.dataset.statuses ?? '').split(' '));
  for (const c of el.querySelectorAll<HTMLElement>('.col')) all.add(c.dataset.status ?? '');
  return [...all].filter((s) => s !== '' && s !== from);
}

/** Shows (or hides again) the columns drawn hidden because empty, as drop targets while a card is dragged. */
function showSpare(el: HTMLElement, on: boolean): void {
  el.classList.toggle('dragging', on);
}

/** Opens the status menu under a card (M): one button per other column; Escape or leaving it closes it, the arrows move within it. */
function openMenu(el: HTMLElement, card: HTMLAnchorElement): void {
  const page = card.dataset.page ?? '';
  const row = rowOf(page);
  if (row === undefined) return;
  const read = readVersion(row.id);
  const menu = document.createElement('div');
  menu.className = 'move-menu';
  menu.setAttribute('role', 'group');
  menu.setAttribute('aria-label', `Move ${row.id} to`);
  menu.innerHTML = targets(el, row.status).map((s) => `<button type="button" data-to="${esc(s)}">${esc(statusWord(s, words()))}</button>`).join('');
  card.after(menu);
  const buttons = [...menu.querySelectorAll<HTMLButtonElement>('button')];
  buttons[0]?.focus();
  // Removing a focused element fires focusout at once (Chromium), whose handler closes the menu too: once only.
  let open = true;
  const close = (): void => {
    if (!open) return;
    open = false;
    menu.remove();
  };
  const back = (): void => {
    card.focus();
    close();
  };
  menu.addEventListener('keydown', (e) => {
    const at = buttons.indexOf(e.target as HTMLButtonElement);
    const next = e.key === 'Escape' ? 'back' : e.key === 'ArrowDown' ? buttons[at + 1] : e.key === 'ArrowUp' ? buttons[at - 1] : undefined;
    if (next === undefined) return;
    e.preventDefault();
    e.stopPropagation();
    if (next === 'back') back();
    else next.focus();
  });
  menu.addEventListener('click', (e) => {
    const to = e.target instanceof Element ? e.target.closest<HTMLButtonElement>('button')?.dataset.to : undefined;
    if (to === undefined) return;
    back();
    void move(page, to, read);
  });
  menu.addEventListener('focusout', (e) => {
    if (!(e.relatedTarget instanceof Node && menu.contains(e.relatedTarget))) close();
  });
}

/** Marks the cards movable (draggable, M) and puts each card's message back: called after every draw of the board. */
export function decorate(el: HTMLElement): void {
  if (token === undefined) return;
  for (const card of el.querySelectorAll<HTMLAnchorElement>('a.card')) {
    card.draggable = true;
    card.setAttribute('aria-keyshortcuts', 'M');
    const page = card.dataset.page ?? '';
    const text = notes.get(page);
    const id = `msg-${page.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    let p = card.parentElement?.querySelector<HTMLElement>('.card-msg') ?? null;
    if (text === undefined) {
      p?.remove();
      card.removeAttribute('aria-describedby');
      continue;
    }
    if (p === null) {
      p = document.createElement('p');
      p.className = 'card-msg';
      p.setAttribute('role', 'alert');
      card.parentElement?.append(p);
    }
    p.id = id;
    p.textContent = text;
    card.setAttribute('aria-describedby', id);
  }
}

/** Wires dragging and the M key on the board; they do anything only once the server gave this page its token (enableMoves). */
export function startMoves(el: HTMLElement, draw: () => void, statusWords: () => StatusWords): void {
  redraw = draw;
  words = statusWords;
  const colOf = (e: Event): HTMLElement | null => (e.target instanceof Element ? e.target.closest<HTMLElement>('.col') : null);
  el.addEventListener('dragstart', (e) => {
    const card = e.target instanceof Element ? e.target.closest<HTMLAnchorElement>('a.card') : null;
    const row = card === null ? undefined : rowOf(card.dataset.page ?? '');
    if (token === undefined || card === null || row === undefined) return;
    dragging = { page: card.dataset.page ?? '', read: readVersion(row.id) };
    if (e.dataTransfer) e.dataTransfer.effectAllowed = 'move';
    // After dragstart returns: Chromium takes the drag image then, and a board reflowed under it drops the drag.
    setTimeout(() => { if (dragging !== undefined) showSpare(el, true); }, 0);
  });
  el.addEventListener('dragend', () => {
    dragging = undefined;
    showSpare(el, false);
    for (const c of el.querySelectorAll('.col.drop')) c.classList.remove('drop');
  });
  el.addEventListener('dragover', (e) => {
    const col = colOf(e);
    if (dragging === undefined || col === null || col.dataset.status === rowOf(dragging.page)?.status) return;
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'move';
    col.classList.add('drop');
  });
  el.addEventListener('dragleave', (e) => {
    const col = colOf(e);
    if (col !== null && !(e.relatedTarget instanceof Node && col.contains(e.relatedTarget))) col.classList.remove('drop');
  });
  el.addEventListener('drop', (e) => {
    const col = colOf(e);
    const drag = dragging;
    if (drag === undefined || col === null || col.dataset.status === undefined) return;
    e.preventDefault();
    col.classList.remove('drop');
    void move(drag.page, col.dataset.status, drag.read);
  });
  el.addEventListener('keydown', (e) => {
    if (token === undefined || e.altKey || e.ctrlKey || e.metaKey || (e.key !== 'm' && e.key !== 'M')) return;
    const card = e.target instanceof Element ? e.target.closest<HTMLAnchorElement>('a.card') : null;
    if (card === null) return;
    e.preventDefault();
    openMenu(el, card);
  });
}

/**
 * Asks the server for this page's write token: called at each hello of the event stream (so a
 * static copy of the site never asks, and a restarted server's new token is taken). Without one
 * the board stays read-only.
 */
export function enableMoves(): void {
  if (!HTTP || board() === null) return;
  fetch('/api/token', { cache: 'no-store' })
    .then(async (r) => {
      if (!r.ok) return;
      const doc = (await r.json()) as { token?: unknown };
      if (typeof doc.token !== 'string') return;
      token = doc.token;
      const keys = byId('board-keys', HTMLElement);
      if (keys !== null) keys.textContent = 'On the board, the arrow keys move between cards (Home and End to a column\'s first and last), Enter opens one; M moves the card to another column (or drag it there).';
      redraw();
      const el = board();
      if (el !== null) decorate(el);
    })
    .catch(() => undefined); // read-only, as a static copy is
}
