// Writers of notes for the no-lost-update test (test/edit-concurrency.test.ts): the CLI here; other ways in (MCP) add theirs.
import assert from 'node:assert/strict';
import { cli } from './helpers.ts';

/** One way of appending a note; `version` when the writer passes the version it last saw. Add other ways (MCP) here. */
export interface NoteWriter {
  readonly name: string;
  note(dir: string, id: string, text: string, version: string | undefined): Promise<{ applied: true; version: string } | { applied: false; conflict: string }>;
}

/** The CLI: `note … --json` (exit 0 applied, 1 with "changed since version" a conflict; anything else fails the test). */
export const cliWriter: NoteWriter = {
  name: 'cli',
  async note(dir, id, text, version) {
    const r = await cli(['note', `dir=${dir}`, `id=${id}`, `text=${text}`, ...(version ? [`version=${version}`] : []), '--json'], { timeoutMs: 60_000 });
    if (r.code === 0) return { applied: true, version: (JSON.parse(r.stdout) as { version: string }).version };
    assert.equal(r.code, 1, `note ${text}: exit ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, /changed since version [0-9a-f]{16} .*it is now version [0-9a-f]{16}/, `note ${text}: not a conflict: ${r.stderr}`);
    return { applied: false, conflict: r.stderr.trim() };
  },
};

/**
 * `lanes` writers at once, `perLane` notes each. Even lanes send no version (each must apply:
 * the lock serialises them); odd lanes send the version of their own last write (often stale: a
 * conflict). Returns the applied and refused notes.
 */
export async function hammer(dir: string, id: string, writers: readonly NoteWriter[], perLane: number): Promise<{ applied: string[]; refused: string[] }> {
  const applied: string[] = [];
  const refused: string[] = [];
  await Promise.all(writers.map(async (w, lane) => {
    let version: string | undefined;
    for (let i = 0; i < perLane; i++) {
      const text = `${w.name}-lane${lane}-n${i}`;
      const r = await w.note(dir, id, text, lane % 2 === 1 ? version : undefined);
      if (r.applied) {
        applied.push(text);
        version = r.version;
      } else {
        refused.push(text);
        version = undefined; // read again: the next try goes without a version
      }
    }
  }));
  return { applied, refused };
}
