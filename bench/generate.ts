import fs from 'node:fs';
import path from 'node:path';

const STATUSES = ['draft', 'todo', 'ready', 'In Progress', 'blocked', 'review', 'completed', 'cancelled'];

/** Writes n realistic task files (frontmatter, sections, checkboxes) in 100-file folders. */
export function generateTasks(dir: string, n: number): void {
  for (let i = 0; i < n; i++) {
    const folder = path.join(dir, `area-${String(Math.floor(i / 100)).padStart(3, '0')}`);
    if (i % 100 === 0) fs.mkdirSync(folder, { recursive: true });
    const id = `AREA_${Math.floor(i / 100)}-TASK_${i}`;
    const deps = i > 10 && i % 3 === 0 ? `[AREA_${Math.floor((i - 7) / 100)}-TASK_${i - 7}]` : '[]';
    fs.writeFileSync(path.join(folder, `${id}.md`), `---
id: ${id}
title: Generated task number ${i} with a realistic title
status: ${STATUSES[i % STATUSES.length]}
priority: p${i % 4}
milestone: m${i % 5}-milestone
owner: agent-${i % 7}
depends_on: ${deps}
pr: ${i % 9 === 0 ? `https://example.invalid/pull/${i}` : ''}
ci: ${['passing', 'failing', 'pending'][i % 3]}
---
## Problem
Task ${i} needs doing. ${'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(6)}

## Plan
- [x] understand the problem
- [ ] write the code
- [ ] test it

## Implementation Progress
${'Notes on progress so far. '.repeat(10)}
`);
  }
}

