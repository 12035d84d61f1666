// `mcp`: a stdio MCP server for agents (lib/mcp/). Filled in by the MCP server's commit.
import type { Options } from '../args.ts';
import type { Cli } from '../context.ts';
import { TasksError } from '../../base/errors.ts';

export async function run(_o: Options, _cli: Cli): Promise<number> {
  throw new TasksError('mcp: not built yet');
}
