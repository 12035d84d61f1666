// Attacks on the MCP server (issue 18) that currently succeed: each test says what must hold and fails until it does.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { uniqueOwner } from './helpers.ts';
import { call, withMcp } from './mcp-client.ts';

test('task_view never reads a log through a runs/ folder a repository committed as a link out of the folder', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-attack-mcp-'));
  try {
    const outside = path.join(root, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'secret.log'), 'SECRET-LINE-OUTSIDE\n');
    const dir = path.join(root, 'tasks');
    fs.mkdirSync(path.join(dir, 'logs', 'task_manager'), { recursive: true });
    fs.symlinkSync(outside, path.join(dir, 'logs', 'task_manager', 'runs'));
    fs.writeFileSync(path.join(dir, 'secret.md'), '---\nid: secret\ntitle: Secret\nstatus: todo\n---\n');
    await withMcp(dir, uniqueOwner('atk'), async ({ client }) => {
      const v = await call<{ log: { lines: string[] } | null }>(client, 'task_view', { id: 'secret' });
      assert.ok(!JSON.stringify(v.log ?? null).includes('SECRET-LINE-OUTSIDE'), `read through the link: ${JSON.stringify(v.log)}`);
    });
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('task_create never writes a file the tool cannot read back (a NUL in the title)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-attack-mcp-'));
  try {
    await withMcp(dir, uniqueOwner('atk'), async ({ client }) => {
      const r = await client.callTool({ name: 'task_create', arguments: { title: 'a\u0000b' } }) as { isError?: boolean; structuredContent?: { id: string } };
      if (r.isError === true) return; // refused: fine, as long as nothing was written
      const id = r.structuredContent?.id as string;
      const v = await client.callTool({ name: 'task_view', arguments: { id } }) as { isError?: boolean; content: unknown };
      assert.notEqual(v.isError, true, `created ${id}, which the tool then cannot read: ${JSON.stringify(v.content)}`);
    });
    const files = fs.readdirSync(dir).filter((n) => n.endsWith('.md'));
    for (const n of files) assert.ok(!fs.readFileSync(path.join(dir, n)).includes(0), `${n} holds a NUL byte`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
