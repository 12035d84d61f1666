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
