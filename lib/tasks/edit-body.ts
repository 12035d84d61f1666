// Body edits: a dated note appended to the notes section, a plan checkbox ticked; every other line kept byte for byte.
import type { FolderKind } from './format.ts';

/** A body edit that cannot be made (no such checkbox, an ambiguous text): one line naming the fix. */
export class BodyProblem extends Error {}

/** Lines with their own endings, so joining them gives the text back exactly. */
function linesOf(text: string): string[] {
  return text === '' ? [] : text.split(/(?<=\n)/);
}

const HEADING = /^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*\r?\n?$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const NOTES_HEADING = /^(implementation[ _-]+)?(notes|progress)$|^progress[ _-]+notes$|^(work[ _-]*)?log$/i;
const PLAN_HEADING = /plan|subtasks|steps|checklist|to ?do/i;
const BOX = /^(\s*(?:[-*+]|\d+[.)])\s+\[)([ xX])(\](?:\s|$))(.*?)\r?\n?$/;

interface Line { text: string; heading: { level: number; title: string } | undefined; fenced: boolean; marker: string | undefined }

/** Each line with its heading (if it is one), whether it is inside a code fence, and the Backlog.md marker it is, if any. */
function scan(lines: readonly string[]): Line[] {
  let fence: string | null = null;
  return lines.map((text) => {
    const f = FENCE.exec(text);
    if (f !== null) {
      const m = f[1] as string;
      if (fence === null) fence = m;
      else if (m[0] === fence[0] && m.length >= fence.length) fence = null;
      return { text, heading: undefined, fenced: true, marker: undefined };
    }
    if (fence !== null) return { text, heading: undefined, fenced: true, marker: undefined };
    const h = HEADING.exec(text);
    const marker = /^\s*<!--\s*((?:SECTION:)?[A-Z]+:(?:BEGIN|END))\s*-->\s*$/.exec(text)?.[1];
    return { text, heading: h === null ? undefined : { level: (h[1] as string).length, title: (h[2] as string).trim() }, fenced: false, marker };
  });
}

/** The section a new notes heading gets in each format (Backlog.md's own, with its markers). */
const NEW_NOTES: Record<FolderKind, { heading: string; markers: boolean }> = {
  backlog: { heading: '## Implementation Notes', markers: true },
  taskmd: { heading: '## Notes', markers: false },
  tasks: { heading: '## Implementation Progress', markers: false },
};

/**
 * The body with `line` appended to its notes: before Backlog.md's NOTES:END marker, else at the
 * end of a Notes / Implementation Notes / Progress section, else in a new section at the end.
 */
export function appendNote(body: string, line: string, kind: FolderKind, eol: string): string {
  const lines = linesOf(body);
  const info = scan(lines);
  const end = info.findIndex((l) => l.marker === 'SECTION:NOTES:END');
  if (end >= 0) return insertAt(lines, end, `${line}${eol}`);
  const at = info.findIndex((l) => l.heading !== undefined && NOTES_HEADING.test(l.heading.title));
  if (at >= 0) {
    const level = info[at]?.heading?.level ?? 2;
    let stop = info.findIndex((l, i) => i > at && l.heading !== undefined && l.heading.level <= level);
    if (stop < 0) stop = lines.length;
    let last = stop - 1;
    while (last > at && (lines[last] ?? '').trim() === '') last--;
    // A last line without its line ending (the end of the file) gets one first.
    const prev = lines[last] ?? '';
    if (!prev.endsWith('\n')) lines[last] = prev + eol;
    // Under a paragraph the note starts a list of its own, after a blank line; under a list it is one more item.
    const list = /^\s*(?:[-*+]|\d+[.)])\s/.test(lines[last] ?? '');
    return insertAt(lines, last + 1, last === at || !list ? `${eol}${line}${eol}` : `${line}${eol}`);
  }
  const shape = NEW_NOTES[kind];
  const sep = body === '' ? '' : body.endsWith(`${eol}${eol}`) || body.endsWith('\n\n') ? '' : body.endsWith('\n') ? eol : eol + eol;
  const inner = shape.markers ? `<!-- SECTION:NOTES:BEGIN -->${eol}${line}${eol}<!-- SECTION:NOTES:END -->${eol}` : `${line}${eol}`;
  return `${body}${sep}${shape.heading}${eol}${eol}${inner}`;
}

function insertAt(lines: string[], index: number, text: string): string {
  return [...lines.slice(0, index), text, ...lines.slice(index)].join('');
}

/** One checkbox of the body: its line index, its text, whether it is ticked. */
interface Box { index: number; text: string; done: boolean }

/** The plan's checkboxes: inside Backlog.md's PLAN markers or under a Plan / Subtasks / Steps heading; when it has none, every checkbox of the body. */
export function planBoxes(body: string): Box[] {
  const info = scan(linesOf(body));
  const all: (Box & { plan: boolean })[] = [];
  let inPlanMarkers = false;
  let planLevel = 0;
  info.forEach((l, index) => {
    if (l.marker === 'SECTION:PLAN:BEGIN') inPlanMarkers = true;
    if (l.marker === 'SECTION:PLAN:END') inPlanMarkers = false;
    if (l.heading !== undefined) {
      if (PLAN_HEADING.test(l.heading.title)) planLevel = l.heading.level;
      else if (planLevel > 0 && l.heading.level <= planLevel) planLevel = 0;
      return;
    }
    const m = l.fenced ? null : BOX.exec(l.text);
    if (m !== null) all.push({ index, text: (m[4] as string).trim(), done: m[2] !== ' ', plan: inPlanMarkers || planLevel > 0 });
  });
  const plan = all.filter((b) => b.plan);
  return (plan.length > 0 ? plan : all).map(({ index, text, done }) => ({ index, text, done }));
}

/** Finds the checkbox `item` names: a 1-based number, or its text (exact, Backlog.md's `#2 ` left off or not; else a unique substring). */
function findBox(boxes: readonly Box[], item: number | string): { box: Box; n: number } {
  const count = `${boxes.length} checkbox${boxes.length === 1 ? '' : 'es'}`;
  if (typeof item === 'number') {
    const box = boxes[item - 1];
    if (!Number.isInteger(item) || box === undefined) throw new BodyProblem(`item ${item} is not a checkbox of the plan, which has ${count}; give a number from 1 to ${boxes.length}`);
    return { box, n: item };
  }
  const want = item.trim().toLowerCase();
  const bare = (t: string): string => t.replace(/^#\d+\s+/, '').toLowerCase();
  let hits = boxes.filter((b) => b.text.toLowerCase() === want || bare(b.text) === want);
  if (hits.length === 0) hits = boxes.filter((b) => b.text.toLowerCase().includes(want));
  const [hit] = hits;
  if (hit === undefined || want === '') throw new BodyProblem(`no checkbox of the plan (${count}) says \`${item}\`; give its number or its exact text`);
  if (hits.length > 1) throw new BodyProblem(`\`${item}\` matches ${hits.length} checkboxes (${hits.map((b) => `${boxes.indexOf(b) + 1}: ${b.text}`).join('; ')}); give its number`);
  return { box: hit, n: boxes.indexOf(hit) + 1 };
}

/** The body with the checkbox `item` names ticked ([ ] → [x]); `n` is its number, `text` its words, `ticked` false when it was ticked already. */
export function tickBox(body: string, item: number | string): { body: string; n: number; text: string; ticked: boolean } {
  const { box, n } = findBox(planBoxes(body), item);
  if (box.done) return { body, n, text: box.text, ticked: false };
  const lines = linesOf(body);
  lines[box.index] = (lines[box.index] as string).replace(BOX, (whole, a: string, _b: string, c: string) => whole.replace(`${a} ${c}`, `${a}x${c}`));
  return { body: lines.join(''), n, text: box.text, ticked: true };
}
