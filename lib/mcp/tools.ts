// The six tools: each reads the folder live, answers with structured content (checked against its output schema) and the same as JSON text.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { TasksError } from '../base/errors.ts';
import type { Cli } from '../cli/context.ts';
import { readClaims, readStatus } from '../cli/status.ts';
import type { Options } from '../cli/args.ts';
import { EditConflict, type EditResult, createTask, editTask, readForEdit } from '../tasks/edit.ts';
import { stuckSlack } from '../supervise/health.ts';
import type { McpFolder } from './folder.ts';
import * as s from './schemas.ts';
import { viewTask } from './view.ts';
import { listTasks, summaryOf, whyNone } from './views.ts';

/** Reads change nothing and may be repeated; none reaches outside the folder and its registry. */
const READ: ToolAnnotations = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };

/** An answer: the structured content, and the same as JSON text for clients that read only text. */
function ok(structured: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(structured) }], structuredContent: structured };
}

/** A failure the agent can act on: one line, isError (a refused edit, an unknown id, a database that cannot be reached). */
function failed(err: unknown): CallToolResult {
  if (!(err instanceof TasksError)) throw err; // a bug: the SDK reports it as an error result with its message
  return { content: [{ type: 'text', text: err.message }], isError: true };
}

async function answer(fn: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await fn();
  } catch (err) {
    return failed(err);
  }
}

export function registerTools(server: McpServer, folder: McpFolder, o: Options, cli: Cli): void {
  server.registerTool('task_list', {
    title: 'List tasks',
    description: "The folder's tasks (summaries, no bodies), best priority first, filtered by any of status, dispatchable, label, owner, milestone, text.",
    inputSchema: s.listInput, outputSchema: s.listOutput, annotations: READ,
  }, (args) => answer(async () => ok({ ...listTasks(await folder.read(), args) })));

  server.registerTool('task_view', {
    title: 'View a task',
    description: "One task in full: metadata, body, version (pass it to task_update), its claim and run state, and its run log's last lines.",
    inputSchema: s.viewInput, outputSchema: s.viewOutput, annotations: READ,
  }, ({ id, log_lines }) => answer(async () => ok({ ...await viewTask(folder, cli, id, log_lines) })));

  server.registerTool('task_next', {
    title: 'Next task',
    description: 'The task the heartbeat would dispatch next (ready, dependencies completed, unclaimed, best priority), or why there is none.',
    inputSchema: s.noInput, outputSchema: s.nextOutput, annotations: READ,
  }, () => answer(async () => {
    const r = await folder.read();
    const next = r.dispatchable[0];
    return ok({ task: next === undefined ? null : summaryOf(next, r.registry), reason: whyNone(r, folder.ready) ?? null, dispatchable: r.dispatchable.length });
  }));

  server.registerTool('task_update', {
    title: 'Update a task',
    description: 'Set the status and/or frontmatter fields, append a dated note, tick a plan checkbox. Changes only what it names; with version, a file changed since is a conflict and nothing is written.',
    inputSchema: s.updateInput, outputSchema: s.editOutput,
    // It replaces values (a status, a field; null removes a key) and a repeated note is a second note.
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  }, ({ id, ...req }) => answer(async () => {
    try {
      return edited(await editTask(folder.dir, id, strip(req)));
    } catch (err) {
      if (!(err instanceof EditConflict)) throw err;
      return conflict(folder.dir, err);
    }
  }));

  server.registerTool('task_create', {
    title: 'Create a task',
    description: "A new task file in the folder's own format, naming and id scheme; the status defaults to the folder's first.",
    inputSchema: s.createInput, outputSchema: s.editOutput,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  }, (args) => answer(async () => edited(await createTask(folder.dir, strip(args)))));

  server.registerTool('status', {
    title: 'Heartbeat status',
    description: "The heartbeat's health (running, stuck, stopped), its last tick, counts, escalations (tasks that need a person), claims and holds.",
    inputSchema: s.noInput, outputSchema: s.statusOutput, annotations: READ,
  }, () => answer(async () => {
    const doc = await readStatus(o.owner, o.dir, cli.self, new Date(), await readClaims(o, cli), stuckSlack(cli.env));
    return ok({ ...doc });
  }));
}

function edited(r: EditResult): CallToolResult {
  return ok({ ...r, conflict: null });
}

/** A conflict is the agent's to resolve: isError, with what changed and the version to read again, and nothing written. */
async function conflict(dir: string, err: EditConflict): Promise<CallToolResult> {
  const path = await readForEdit(dir, err.id).then((r) => r.path, () => '');
  const structured = { id: err.id, path, before: err.asked, version: err.current, changed: [], conflict: { current: err.current, changes: err.changes } };
  return { content: [{ type: 'text', text: `conflict: ${err.message}` }], structuredContent: structured, isError: true };
}

/** The arguments without the keys the client left out (the core tells an absent part from one given as undefined). */
function strip<T extends Record<string, unknown>>(args: T): T {
  return Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined)) as T;
}
