// The board: a column per status (the folder's declared ones, else the lifecycle), cards from the filtered tasks, moved through with the arrow keys; cards move between columns through move.ts.
import { byId } from './dom.ts';
import { localDay } from './due.ts';
import { decorate, startMoves } from './move.ts';
import { type StatusWords, type TaskRow, badge, cardHtml, esc } from './rows.ts';

/** Cards a column shows before its "Show more" button; each press shows this many more. */
const COLUMN_STEP = 100;
/** Cards shown per status, past COLUMN_STEP. */
const limits = new Map<string, number>();
/** What the board shows now, so an unchanged board is not redrawn. */
let drawn = '';
/** The card holding the board's one tab stop (its page name): Tab enters the board there, the arrows move it. */
let current: string | undefined;

function board(): HTMLElement | null {
  return byId('board', HTMLElement);
}

/** The folder's words for its statuses, as the index gives them (data-words): read once, it never changes while the page is open. */
let words: StatusWords | undefined;
export function statusWords(): StatusWords {
  if (words !== undefined) return words;
  words = {};
  try {
    const parsed: unknown = JSON.parse(board()?.dataset.words ?? '{}');
    if (parsed !== null && typeof parsed === 'object') words = parsed as StatusWords;
  } catch {
    // A page without the map shows the status keys.
  }
  return words;
}

/**
 * Draws the columns: the statuses the index lists (the folder's declared ones, else canonical then
 * custom; those in data-hide-empty shown only while they have cards, else drawn as spare columns
 * that appear while a card is dragged, so it can be dropped there), then any other status the
 * tasks have, by name; only the filtered status's column when the filter names one.
 */
export function drawBoard(list: readonly TaskRow[], statusFilter: string): void {
  const el = board();
  if (el === null) return;
  const groups = new Map<string, TaskRow[]>();
  for (const s of (el.dataset.statuses ?? '').split(' ')) if (s) groups.set(s, []);
  const known = groups.size;
  for (const r of list) {
    let g = groups.get(r.status);
    if (g === undefined) groups.set(r.status, (g = []));
    g.push(r);
  }
  const optional = new Set((el.dataset.hideEmpty ?? '').split(' '));
  const keys = [...groups.keys()];
  let columns = [...keys.slice(0, known), ...keys.slice(known).sort()];
  if (statusFilter && statusFilter !== '-') columns = [statusFilter];
  const spare = (s: string): boolean => optional.has(s) && !groups.get(s)?.length && columns.length > 1;
  const today = localDay(new Date());
  const parts = columns.map((status, i) => {
    const cards = groups.get(status) ?? [];
    const shown = cards.slice(0, limits.get(status) ?? COLUMN_STEP);
    const more = cards.length > shown.length
      ? `<button type="button" class="more" data-status="${esc(status)}">Show ${Math.min(COLUMN_STEP, cards.length - shown.length)} more (${shown.length} of ${cards.length})</button>` : '';
    // An empty column that stays (a declared status, or the main road of the lifecycle) is narrow.
    return `<section class="col${cards.length ? '' : ' empty'}${spare(status) ? ' spare' : ''}" data-status="${esc(status)}" aria-labelledby="col-${i}"><h3 id="col-${i}">${badge(status, statusWords())} <span class="n">${cards.length}</span></h3>` +
      `${shown.length ? `<ol>${shown.map((r) => cardHtml(r, today)).join('')}</ol>` : '<p class="none">none</p>'}${more}</section>`;
  });
  const html = parts.join('');
  const key = `${today}\n${html}`;
  if (key === drawn) return;
  const had = el.contains(document.activeElement);
  el.innerHTML = html;
  drawn = key;
  decorate(el);
  const cards = [...el.querySelectorAll<HTMLAnchorElement>('a.card')];
  const stop = cards.find((c) => c.dataset.page === current) ?? cards[0];
  if (stop === undefined) return;
  stop.tabIndex = 0;
  const moved = current !== stop.dataset.page;
  current = stop.dataset.page;
  if (had) stop.focus();
  else if (moved) showColumn(el, stop);
}

/**
 * Scrolls the board sideways so the tab stop's column is in sight: where Tab enters the board is
 * where the eye is (empty columns before it would otherwise push it off a phone's screen).
 */
function showColumn(el: HTMLElement, card: HTMLAnchorElement): void {
  const col = card.closest<HTMLElement>('.col');
  if (col === null) return;
  const view = el.getBoundingClientRect();
  const box = col.getBoundingClientRect();
  if (box.left >= view.left && box.right <= view.right) return;
  el.scrollLeft += box.left - view.left;
}

/** Moves the tab stop to a card and focuses it. */
function focusCard(card: HTMLAnchorElement): void {
  const el = board();
  if (el === null) return;
  for (const c of el.querySelectorAll<HTMLAnchorElement>('a.card[tabindex="0"]')) c.tabIndex = -1;
  card.tabIndex = 0;
  current = card.dataset.page;
  card.focus();
}

/** The card an arrow key leads to: up and down within the column, left and right to the nearest column with cards, Home and End. */
function target(key: string, columns: readonly HTMLAnchorElement[][], col: number, row: number): HTMLAnchorElement | undefined {
  const here = columns[col] ?? [];
  switch (key) {
    case 'ArrowDown': return here[row + 1];
    case 'ArrowUp': return here[row - 1];
    case 'Home': return here[0];
    case 'End': return here[here.length - 1];
    case 'ArrowRight':
    case 'ArrowLeft': {
      const step = key === 'ArrowRight' ? 1 : -1;
      for (let c = col + step; c >= 0 && c < columns.length; c += step) {
        const cards = columns[c] ?? [];
        if (cards.length) return cards[Math.min(row, cards.length - 1)];
      }
      return undefined;
    }
    default: return undefined;
  }
}

/** Wires the board's keys (arrows, Home, End; Enter opens a card, being a link) and its "Show more" buttons; `redraw` draws the view again. */
export function startBoard(redraw: () => void): void {
  const el = board();
  if (el === null) return;
  el.addEventListener('keydown', (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey || !(e.target instanceof Element)) return;
    const card = e.target.closest<HTMLAnchorElement>('a.card');
    if (card === null) return;
    const columns = [...el.querySelectorAll('.col')].map((c) => [...c.querySelectorAll<HTMLAnchorElement>('a.card')]);
    const col = columns.findIndex((cards) => cards.includes(card));
    const next = target(e.key, columns, col, (columns[col] ?? []).indexOf(card));
    if (next === undefined) return;
    e.preventDefault();
    focusCard(next);
    next.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  });
  el.addEventListener('focusin', (e) => {
    if (e.target instanceof HTMLAnchorElement && e.target.classList.contains('card') && e.target.tabIndex !== 0) focusCard(e.target);
  });
  el.addEventListener('click', (e) => {
    const button = e.target instanceof Element ? e.target.closest<HTMLButtonElement>('button.more') : null;
    if (button === null) return;
    const status = button.dataset.status ?? '';
    const before = limits.get(status) ?? COLUMN_STEP;
    limits.set(status, before + COLUMN_STEP);
    redraw();
    // The button is gone: focus goes to the first card it brought.
    const col = [...el.querySelectorAll<HTMLElement>('.col')].find((c) => c.dataset.status === status);
    const first = col?.querySelectorAll<HTMLAnchorElement>('a.card')[before];
    if (first !== undefined) focusCard(first);
  });
  startMoves(el, redraw, statusWords);
}
