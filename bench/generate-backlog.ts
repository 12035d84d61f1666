// A generated Backlog.md project, in the layout Backlog.md 1.52 writes (`backlog init`, `backlog task
// create`): <root>/backlog/config.yml and <root>/backlog/tasks/task-N - Title.md with its section
// markers, so the console and Backlog.md's own browser read the same files (bench/peer.ts). Kept
// apart from generate.ts, whose folders are the console's own format.
import fs from 'node:fs';
import path from 'node:path';

const STATUSES = ['To Do', 'In Progress', 'Done'];
const PRIORITIES = ['high', 'medium', 'low'];

/** Writes <root>/backlog with n tasks (about 1.2 KB each, like generateTasks); returns the backlog folder. */
export function generateBacklogTasks(root: string, n: number): string {
  const backlog = path.join(root, 'backlog');
  const tasks = path.join(backlog, 'tasks');
  fs.mkdirSync(tasks, { recursive: true });
  // Branch checks and remote operations off: Backlog.md then reads the folder, not git.
  fs.writeFileSync(path.join(backlog, 'config.yml'), `project_name: "Bench"
default_status: "To Do"
statuses: ["To Do", "In Progress", "Done"]
labels: []
date_format: yyyy-mm-dd
max_column_width: 20
auto_open_browser: false
default_port: 6420
remote_operations: false
auto_commit: false
filesystem_only: false
bypass_git_hooks: false
check_active_branches: false
active_branch_days: 30
task_prefix: "task"
`);
  for (let i = 1; i <= n; i++) {
    const title = `Generated task number ${i} with a realistic title`;
    const deps = i > 10 && i % 3 === 0 ? `\n  - TASK-${i - 7}` : ' []';
    fs.writeFileSync(path.join(tasks, `task-${i} - ${title.replaceAll(' ', '-')}.md`), `---
id: TASK-${i}
title: ${title}
status: ${STATUSES[i % STATUSES.length]}
assignee:
  - '@agent-${i % 7}'
created_date: '2026-01-${String(1 + (i % 28)).padStart(2, '0')} 10:00'
labels:
  - area-${Math.floor(i / 100)}
milestone: m${i % 5}-milestone
dependencies:${deps}
priority: ${PRIORITIES[i % PRIORITIES.length]}
ordinal: ${i * 1000}
---

## Description

<!-- SECTION:DESCRIPTION:BEGIN -->
Task ${i} needs doing. ${'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(6)}
<!-- SECTION:DESCRIPTION:END -->

## Acceptance Criteria
<!-- AC:BEGIN -->
- [x] #1 understand the problem
- [ ] #2 write the code
- [ ] #3 test it
<!-- AC:END -->

## Implementation Notes

<!-- SECTION:NOTES:BEGIN -->
${'Notes on progress so far. '.repeat(10)}
<!-- SECTION:NOTES:END -->
`);
  }
  return backlog;
}
