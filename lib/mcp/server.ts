// The agents' MCP server: six tools and the workflow guidance over stdio, reading the tasks folder live on every call.
import path from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { readJsonFile } from '../base/jsonfile.ts';
import type { Options } from '../cli/args.ts';
import type { Cli } from '../cli/context.ts';
import { McpFolder } from './folder.ts';
import { GUIDANCE, GUIDANCE_URI, INSTRUCTIONS } from './guidance.ts';
import { registerTools } from './tools.ts';

/** The server for one tasks folder and owner, not yet connected. */
export function tasksServer(o: Options, cli: Cli, folder: McpFolder): McpServer {
  const version = readJsonFile<{ version?: unknown }>(path.join(cli.root, 'package.json'))?.version;
  const server = new McpServer({ name: 'tasks', version: typeof version === 'string' ? version : '0.0.0' }, { instructions: INSTRUCTIONS });
  server.registerResource('guidance', GUIDANCE_URI, {
    title: 'How to work on tasks', description: 'The workflow: view, set in_progress, note progress, finish; versions and conflicts.', mimeType: 'text/markdown',
  }, (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/markdown', text: GUIDANCE }] }));
  registerTools(server, folder, o, cli);
  return server;
}

/**
 * Serves on stdin/stdout until the client closes stdin or a signal comes. stdout is the protocol:
 * everything said goes to stderr (console.log too, in case a dependency logs).
 */
export async function serveStdio(o: Options, cli: Cli): Promise<number> {
  console.log = console.error;
  console.info = console.error;
  const folder = new McpFolder(o, cli);
  const server = tasksServer(o, cli, folder);
  const transport = new StdioServerTransport();
  const stop = cli.onStop();
  const ended = new Promise<string>((resolve) => {
    process.stdin.once('end', () => resolve('the client closed stdin'));
    process.stdin.once('close', () => resolve('the client closed stdin'));
    transport.onclose = () => resolve('the transport closed');
    stop.signal.addEventListener('abort', () => resolve(stop.received() ?? 'a signal'), { once: true });
  });
  await server.connect(transport);
  cli.note(`tasks mcp: serving ${o.dir} (owner ${o.owner}) on stdio`);
  const why = await ended;
  cli.note(`tasks mcp: stopping: ${why}`);
  await server.close().catch(() => undefined);
  await folder.close();
  return 0;
}
