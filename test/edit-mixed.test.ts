// No lost update across ways in: CLI processes and MCP clients append notes to one file at once; every note is applied or refused with a conflict, none lost.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { cli, withTempFolder } from './helpers.ts';
import { withMcp } from './mcp-client.ts';

const EACH = 25;
const mark = (who: string, n: number): string => `mixed/${who}/${String(n).padStart(2, '0')}.`;

interface Tally { applied: string[]; refused: string[] }

/** One CLI process per note, one after another (the way a script or an agent's shell calls it). */
async function cliNotes(dir: string, owner: string, who: string): Promise<Tally> {
  const t: Tally = { applied: [], refused: [] };
  for (let n = 0; n < EACH; n++) {
    const r = await cli(['note', `dir=${dir}`, `owner=${owner}`, 'id=FIRST-TASK', `text=${mark(who, n)}`], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, `${who} note ${n}: ${r.stderr}`);
    t.applied.push(mark(who, n));
  }
  return t;
}

/** One MCP client's notes; with `versioned`, each read first and sent with its version, so a write in between is a conflict. */
async function mcpNotes(client: Client, who: string, versioned: boolean): Promise<Tally> {
  const t: Tally = { applied: [], refused: [] };
  for (let n = 0; n < EACH; n++) {
    let version: Record<string, string> = {};
    if (versioned) {
      const view = await client.callTool({ name: 'task_view', arguments: { id: 'FIRST-TASK', log_lines: 0 } }) as CallToolResult;
      version = { version: (view.structuredContent as { version: string }).version };
    }
    const r = await client.callTool({ name: 'task_update', arguments: { id: 'FIRST-TASK', note: mark(who, n), ...version } }) as CallToolResult;
    const text = (r.content[0] as { text: string }).text;
    if (r.isError !== true) t.applied.push(mark(who, n));
    else if (versioned && /^conflict:/.test(text)) t.refused.push(mark(who, n));
    else assert.fail(`${who} note ${n}: ${text}`);
  }
  return t;
}

test(`2 CLI processes and 2 MCP clients x ${EACH} notes to one file at once: the notes in the file are exactly the ones applied`, { timeout: 240_000 }, (ctx) => withTempFolder('mixed', async (t) => {
  const file = path.join(t.dir, 'FIRST-TASK.md');
  const head = fs.readFileSync(file, 'utf8').split('## Problem')[0];
  let tallies: Tally[] = [];
  await withMcp(t.dir, t.owner, async (a) => {
    await withMcp(t.dir, t.owner, async (b) => {
      tallies = await Promise.all([
        cliNotes(t.dir, t.owner, 'cli0'),
        cliNotes(t.dir, t.owner, 'cli1'),
        mcpNotes(a.client, 'mcp0', true),
        mcpNotes(b.client, 'mcp1', false),
      ]);
    });
  });
  const text = fs.readFileSync(file, 'utf8');
  const applied = tallies.flatMap((x) => x.applied);
  const refused = tallies.flatMap((x) => x.refused);
  ctx.diagnostic(`${applied.length} notes applied, ${refused.length} refused with a conflict`);
  assert.equal(applied.length + refused.length, 4 * EACH);
  for (const m of applied) assert.equal(text.split(m).length - 1, 1, `${m} is in the file once`);
  for (const m of refused) assert.equal(text.includes(m), false, `${m} was refused and is not in the file`);
  const notes = text.match(/mixed\/[a-z0-9]+\/[0-9]{2}\./g) ?? [];
  assert.equal(notes.length, applied.length, 'notes in the file = successes');
  // Notes touch the body only: the frontmatter keeps its bytes.
  assert.ok(text.startsWith(head as string));
}));
