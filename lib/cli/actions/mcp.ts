// `mcp`: a stdio MCP server for agents (lib/mcp/): list, view, update and create tasks, the next ready task, the heartbeat's state.
import type { Options } from '../args.ts';
import type { Cli } from '../context.ts';

export async function run(o: Options, cli: Cli): Promise<number> {
  // Loaded only here: no other action pays for the SDK.
  const { serveStdio } = await import('../../mcp/server.ts');
  return serveStdio(o, cli);
}
