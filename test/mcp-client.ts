// A real MCP client for tests: the SDK's Client spawning `tasks mcp` over stdio, as an agent's client does.
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ROOT, SCRIPT, TSX, alive, cliEnv } from './helpers.ts';

interface Connected { client: Client; stderr: () => string }

/** A client connected to `tasks mcp dir= owner=` (and more keys); the server's pid is killed in finally whatever the client did. */
export async function withMcp(dir: string, owner: string, fn: (c: Connected) => Promise<void>, more: readonly string[] = []): Promise<void> {
  const transport = new StdioClientTransport({
    command: process.execPath, args: ['--import', TSX, SCRIPT, 'mcp', `dir=${dir}`, `owner=${owner}`, ...more],
    env: cliEnv(), cwd: ROOT, stderr: 'pipe',
  });
  let err = '';
  transport.stderr?.on('data', (c) => { err += String(c); });
  const client = new Client({ name: 'mcp-test', version: '1.0.0' });
  try {
    await client.connect(transport);
    await fn({ client, stderr: () => err });
  } finally {
    const pid = transport.pid;
    await client.close().catch(() => undefined);
    if (pid !== null && alive(pid)) process.kill(pid, 'SIGKILL');
  }
}

/** A tool's structured answer; fails the test on an error result. */
export async function call<T = Record<string, unknown>>(client: Client, name: string, args: Record<string, unknown> = {}): Promise<T> {
  const r = await client.callTool({ name, arguments: args }) as CallToolResult;
  assert.notEqual(r.isError, true, `${name} failed: ${JSON.stringify(r.content)}`);
  // The same answer as JSON text, for clients that read only text.
  const text = (r.content[0] as { type: string; text: string }).text;
  assert.deepEqual(JSON.parse(text), r.structuredContent);
  return r.structuredContent as T;
}

