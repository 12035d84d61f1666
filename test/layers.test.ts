// The layer rule of docs/architecture.md, read from the sources: imports point only down the layers and the web rooms, and no module imports itself round a circle.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const LIB = path.resolve(import.meta.dirname, '..', 'lib');
/**
 * Lowest first: a module may import from its own place or from one to its left. lib/web's rooms are
 * places of their own; so are cli/actions, the top: the MCP server is a front end like the actions,
 * built on cli's argument rules, context and stores, and the `mcp` action starts it.
 */
const ORDER = ['base', 'supervise', 'tasks', 'manager', 'web/client', 'web/render', 'web/site', 'web/http', 'cli', 'mcp', 'cli/actions'];

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every relative import of a file (static, type-only, re-exports and dynamic import() alike), resolved to a path. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\(\s*|import\s+)['"](\.\.?\/[^'"]+)['"]/g)].map((m) => m[1] as string);
  return specs.map((s) => path.resolve(path.dirname(file), s));
}

function placeOf(file: string): string {
  const rel = path.relative(LIB, file).split(path.sep);
  const room = rel.length > 2 ? rel[1] : '';
  const place = rel[0] === 'web' ? `web/${room}` : rel[0] === 'cli' && room === 'actions' ? 'cli/actions' : (rel[0] as string);
  assert.ok(ORDER.includes(place), `${path.relative(LIB, file)} is in no layer or room (${place})`);
  return place;
}

test('every import in lib/ points to its own layer or room, or one below it', () => {
  const wrong: string[] = [];
  for (const file of sources(LIB)) {
    const from = ORDER.indexOf(placeOf(file));
    for (const target of importsOf(file)) {
      if (!target.startsWith(LIB + path.sep)) continue;
      const to = ORDER.indexOf(placeOf(target));
      if (to > from) wrong.push(`${path.relative(LIB, file)} imports ${path.relative(LIB, target)}`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('no module of lib/ reaches itself through its imports', () => {
  const graph = new Map(sources(LIB).map((f) => [f, importsOf(f).filter((t) => t.startsWith(LIB + path.sep))]));
  const circles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (f: string, trail: string[]): void => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'open') {
      circles.push([...trail.slice(trail.indexOf(f)), f].map((p) => path.relative(LIB, p)).join(' -> '));
      return;
    }
    state.set(f, 'open');
    for (const t of graph.get(f) ?? []) visit(t, [...trail, f]);
    state.set(f, 'done');
  };
  for (const f of graph.keys()) visit(f, []);
  assert.deepEqual(circles, []);
});
