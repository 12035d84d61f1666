// A task body read in one pass: the first '# ' title, the sections, checkbox and acceptance-criteria progress.

/** A '## ' (or deeper) heading of a task body and the markdown under it. */
export interface Section { readonly title: string; readonly level: number; readonly text: string }

export interface BodyFacts {
  title: string | null;
  sections: Section[];
  /** Every checkbox of the body. */
  progress: { done: number; total: number };
  /** The checkboxes under an 'Acceptance Criteria' heading (any level, any case). */
  acceptance: { done: number; total: number };
}

/**
 * Backlog.md's section markers (`<!-- SECTION:DESCRIPTION:BEGIN -->`, `<!-- AC:END -->`): tool
 * bookkeeping, not content. Removed from the body with the line break after them.
 */
const MARKER = /[ \t]*<!--[ \t]*[A-Z][A-Z0-9_]*(?::[A-Z0-9_]+)*:(?:BEGIN|END)[ \t]*-->[ \t]*\n?/g;

/** The body without Backlog.md's section markers (unchanged when it has none). */
export function stripMarkers(body: string): string {
  return body.includes('<!--') ? body.replace(MARKER, '') : body;
}

const ACCEPTANCE = /^acceptance criteria:?$/i;

/** One pass over the body: first '# ' title, sections, checkboxes; code fences are skipped. */
export function scanBody(body: string): BodyFacts {
  const lines = body.split('\n');
  let title: string | null = null;
  let fence: string | null = null;
  const progress = { done: 0, total: 0 };
  const acceptance = { done: 0, total: 0 };
  // The level of the Acceptance Criteria heading we are under, 0 when none.
  let acceptanceLevel = 0;
  const headings: { title: string; level: number; line: number }[] = [];
  lines.forEach((line, i) => {
    const fenceMatch = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fenceMatch !== null) {
      const marker = fenceMatch[1] ?? '';
      if (fence === null) fence = marker;
      else if (marker[0] === fence[0] && marker.length >= fence.length) fence = null;
      return;
    }
    if (fence !== null) return;
    const heading = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/.exec(line);
    if (heading !== null) {
      const level = (heading[1] ?? '').length;
      const name = (heading[2] ?? '').trim();
      if (level === 1 && title === null && name !== '') title = name;
      headings.push({ title: name, level, line: i });
      if (ACCEPTANCE.test(name)) acceptanceLevel = level;
      else if (acceptanceLevel > 0 && level <= acceptanceLevel) acceptanceLevel = 0;
      return;
    }
    const box = /^\s*(?:[-*+]|\d+[.)])\s+\[([ xX])\](?:\s|$)/.exec(line);
    if (box !== null) {
      const done = box[1] !== ' ';
      progress.total++;
      if (done) progress.done++;
      if (acceptanceLevel > 0) {
        acceptance.total++;
        if (done) acceptance.done++;
      }
    }
  });
  const sections: Section[] = [];
  headings.forEach((h, i) => {
    if (h.level < 2) return;
    const end = headings.slice(i + 1).find((next) => next.level <= h.level)?.line ?? lines.length;
    const text = lines.slice(h.line + 1, end).join('\n').replace(/^\n+|\s+$/g, '');
    sections.push({ title: h.title, level: h.level, text });
  });
  return { title, sections, progress, acceptance };
}
