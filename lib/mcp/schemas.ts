// The tools' input and output shapes (zod; the SDK turns them into the JSON Schemas clients see and checks every answer against them).
import * as z from 'zod';

const progress = z.object({ done: z.number(), total: z.number() });

export const summary = z.object({
  id: z.string(),
  title: z.string(),
  status: z.string().describe('canonical (in_progress), or a custom status folded'),
  statusText: z.string().describe("as the file writes it (In Progress): the folder's own word"),
  priority: z.string().nullable(),
  owners: z.array(z.string()),
  labels: z.array(z.string()),
  milestone: z.string().nullable(),
  dependsOn: z.array(z.string()),
  path: z.string().describe('relative to the tasks folder'),
  archived: z.boolean(),
  progress,
  claim: z.object({ state: z.string(), by: z.string(), since: z.string(), host: z.string().nullable() }).nullable(),
  held: z.boolean().describe('released by an operator: not dispatched again until `tasks retry`'),
});

// Inputs are strict: an argument the tool does not take (`stauts` for `status`) is an error naming it,
// not silently dropped into "nothing to change".
export const listInput = z.strictObject({
  status: z.string().optional().describe("canonical (in_progress) or the folder's own word (In Progress)"),
  dispatchable: z.boolean().optional().describe('true: only what the heartbeat would dispatch (ready, dependencies done, unclaimed); false: the rest'),
  label: z.string().optional(),
  owner: z.string().optional(),
  milestone: z.string().optional(),
  text: z.string().optional().describe('case-insensitive, in the id, title or body'),
  archived: z.boolean().optional().describe('include archived tasks (default false)'),
  limit: z.number().int().min(1).max(500).optional().describe('most tasks returned (default 50)'),
});

export const listOutput = { tasks: z.array(summary), total: z.number().describe('matching tasks before the limit'), truncated: z.boolean() };

const id = z.string().min(1).describe('the task id, or its file name');

/** For the tools that take no arguments: any given is a slip, said. */
export const noInput = z.strictObject({});

export const viewInput = z.strictObject({ id, log_lines: z.number().int().min(0).max(500).optional().describe('run log lines (default 40)') });

export const viewOutput = {
  ...summary.shape,
  version: z.string().describe("a hash of the file's bytes: pass it to task_update"),
  fields: z.record(z.string(), z.unknown()),
  body: z.string(),
  run: z.object({
    state: z.string(), claimedBy: z.string(), claimedAt: z.string(), startedAt: z.string().nullable(), endedAt: z.string().nullable(),
    exitCode: z.number().nullable(), worktree: z.string(), branch: z.string().nullable(), host: z.string().nullable(), note: z.string().nullable(),
  }).nullable(),
  released: z.object({ at: z.string(), reason: z.string(), state: z.string(), exitCode: z.number().nullable() }).nullable(),
  hold: z.object({ since: z.string(), by: z.string() }).nullable(),
  log: z.object({ path: z.string(), host: z.string().nullable(), lines: z.array(z.string()) }).nullable(),
};

export const nextOutput = {
  task: summary.nullable(),
  reason: z.string().nullable().describe('why no task is dispatchable; null when one is'),
  dispatchable: z.number().describe('how many tasks are dispatchable now'),
};

const fieldValue = z.union([z.string(), z.array(z.string()), z.null()]);

export const updateInput = z.strictObject({
  id,
  status: z.string().optional().describe("canonical (in_progress, review, completed …) or the folder's own word; written in the folder's own"),
  fields: z.record(z.string(), fieldValue).optional().describe('frontmatter keys to set (null removes one); never id'),
  note: z.string().min(1).optional().describe("one dated line appended to the task's notes"),
  check: z.union([z.number().int().min(1), z.string().min(1)]).optional().describe('tick a plan checkbox: its number (1-based) or its text'),
  version: z.string().optional().describe('the version task_view gave: if the file changed since, nothing is written (a conflict)'),
});

export const createInput = z.strictObject({
  title: z.string().min(1),
  status: z.string().optional().describe("default: the folder's first status"),
  priority: z.string().optional(),
  fields: z.record(z.string(), z.union([z.string(), z.array(z.string())])).optional(),
  body: z.string().optional(),
});

export const editOutput = {
  id: z.string(),
  path: z.string(),
  before: z.string().describe('the version before the edit'),
  version: z.string().describe('the version now: pass it to the next task_update'),
  changed: z.array(z.string()).describe('what changed, in words; empty: nothing to change, nothing written'),
  conflict: z.object({ current: z.string(), changes: z.array(z.string()) }).nullable().describe('set when the file changed since `version`: nothing was written'),
};

export const statusOutput = z.looseObject({
  owner: z.string(),
  dir: z.string(),
  state: z.enum(['running', 'stuck', 'stopped']).describe("the heartbeat's health"),
  running: z.boolean(),
  escalations: z.array(z.object({ id: z.string(), reason: z.string(), since: z.string() })).describe('tasks that need a person'),
  claims: z.array(z.record(z.string(), z.unknown())),
  dispatchNote: z.string().nullable(),
});
