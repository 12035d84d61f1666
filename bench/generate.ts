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


/**
 * Writes one task file of about `bytes` bytes (a frontmatter, then numbered markdown lines), a MiB
 * at a time, so the writer never holds the whole file: the huge-file test and bench/scale.ts.
 */
export function writeHugeTask(file: string, frontmatter: string, bytes: number): void {
  const MiB = 1024 * 1024;
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, frontmatter);
    let written = Buffer.byteLength(frontmatter);
    for (let n = 0; written < bytes;) {
      const lines: string[] = [];
      for (let size = 0; size < MiB; n++) {
        const line = `Line ${n} of a body nobody should render whole, with *some* markdown in it.\n`;
        lines.push(line);
        size += line.length;
      }
      const chunk = Buffer.from(lines.join('')).subarray(0, bytes - written);
      fs.writeSync(fd, chunk);
      written += chunk.length;
    }
  } finally {
    fs.closeSync(fd);
  }
}
