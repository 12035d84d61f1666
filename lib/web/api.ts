// The JSON shapes of /api/tasks and /api/tasks/<id>.
import type { Task } from '../tasks/taskfile.ts';

/** The /api/tasks shape of a task (field names are an interface: docs/api.md); with full, the body and sections too. */
export function apiTask(t: Task, escalated: ReadonlyMap<string, { reason: string; since: string }>, full: boolean): Record<string, unknown> {
  const e = escalated.get(t.id);
  return {
    id: t.id,
    slug: t.slug,
    path: t.path,
    title: t.title,
    status: t.status,
    priority: t.priority,
    milestone: t.milestone,
    owner: t.owner,
    completedBy: t.completedBy,
    completed: t.completed,
    dependsOn: t.dependsOn,
    pr: t.pr,
    ci: t.ci,
    progress: t.progress,
    escalation: e ? { reason: e.reason, since: e.since } : null,
    ...(full ? { fields: t.fields, body: t.body, sections: t.sections } : {}),
  };
}
