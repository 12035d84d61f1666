// What an agent is told about working with this server: in the server's instructions (read once at connect) and as the tasks://guidance resource.

export const GUIDANCE_URI = 'tasks://guidance';

/** The short form, sent as the server's instructions. */
export const INSTRUCTIONS = [
  'Tasks are markdown files in one folder; this server reads them live and edits them in place, changing only what you name.',
  'Work one task at a time: task_view it (note its version), task_update status=in_progress with that version, task_update note=… as you make progress,',
  'tick plan items with check=, and finish with status=review (or completed when no review is wanted). A conflict means someone edited the file since you read it:',
  'task_view again, then retry. task_next names the task to take when none was given to you. Full workflow: the tasks://guidance resource.',
].join(' ');

/** The long form: the tasks://guidance resource. */
export const GUIDANCE = `# Working on tasks through this server

Tasks are markdown files with YAML frontmatter in one folder (ours, Backlog.md or taskmd). A
heartbeat may hand you a task (its id is in TASK_ID in your environment); otherwise ask
\`task_next\` for the best dispatchable one. Every call reads the folder as it is now.

## The workflow
1. **View** — \`task_view id=…\`: its metadata, body, claim and run state, the last lines of its run
   log, and \`version\`, a hash of the file's bytes.
2. **Start** — \`task_update id=… status=in_progress version=…\`. Statuses may be given in the
   canonical words (\`ready\`, \`in_progress\`, \`review\`, \`completed\`, \`blocked\`, \`cancelled\`) or in
   the folder's own (\`In Progress\`, \`Done\`); the file gets the folder's own word. A folder whose
   config declares its statuses takes only those: a status none of them means (\`review\` beside
   To Do / In Progress / Done) is an error listing the words it takes; pick the nearest of them.
3. **Note progress** — \`task_update id=… note="what you did, what is next"\`: one dated line in the
   task's notes section. Tick a plan item with \`check=2\` (its number) or \`check="its text"\`.
4. **Finish** — \`task_update id=… status=review\` when a person should look, or
   \`status=completed\` when the work is done; the heartbeat ends the claim on a completed task.
   Blocked? \`status=blocked\` and a note saying on what.

## Versions and conflicts
Pass the \`version\` you read to \`task_update\`. If the file changed since (a person saved it in
an editor, another agent updated it), nothing is written: the result is an error naming what
changed and the current version. View the task again, decide, and retry with the new version.
A note without a version is always appended (notes never overwrite anything).

## Creating
\`task_create title=… [status, priority, fields, body]\` writes a new file in the folder's own
format and naming, with a fresh id.

## Tools
- \`task_list\`: tasks, filtered by status, dispatchable, label, owner, milestone, text; \`limit\`.
- \`task_view\`: one task in full, with \`version\`.
- \`task_next\`: the next dispatchable task, or why there is none.
- \`task_update\`: status, fields, a note, a checked plan item; \`version\` guards against lost updates.
- \`task_create\`: a new task.
- \`status\`: the heartbeat's health, escalations (tasks that need a person) and claims.
`;
