// `set`, `note`, `check`, `new`: the edit verbs, each one line saying exactly what was done (or --json), through the edit core.
import path from 'node:path';
import type { Options } from '../args.ts';
import { type Cli, displayPath } from '../context.ts';
import { escapeControls, quoteText } from '../../base/controls.ts';
import { type EditRequest, type EditResult, createTask, editTask } from '../../tasks/edit.ts';

/** The request a verb makes of the core: set's status and fields, note's text, check's item. */
function requestOf(o: Options): EditRequest {
  const e = o.edit;
  const version = e.version === undefined ? {} : { version: e.version };
  if (o.action === 'note') return { note: e.text ?? '', ...version };
  if (o.action === 'check') return { check: e.item ?? '', ...version };
  const fields: Record<string, string | string[] | null> = { ...e.fields };
  if (e.title !== undefined) fields['title'] = e.title;
  if (e.priority !== undefined) fields['priority'] = e.priority;
  return { ...(e.status === undefined ? {} : { status: e.status }), ...(Object.keys(fields).length ? { fields } : {}), ...version };
}

/** The one line: `set BACK-3 status: To Do → In Progress (tasks/back-3 - X.md, version ab12…)`, `note BACK-3 appended (…)`. */
function line(o: Options, cli: Cli, r: EditResult): string {
  const where = `(${quoteText(displayPath(cli, path.join(o.dir, r.path)))}, version ${r.version})`;
  const id = quoteText(r.id);
  if (o.action === 'new') return `new ${id} ${quoteText(o.edit.title?.trim() ?? '')} ${where}`;
  if (r.changed.length === 0) {
    const why = o.action === 'check' ? `item ${quoteText(String(o.edit.item))} is ticked already` : 'the file says so already';
    return `${o.action} ${id}: nothing changed, ${why} ${where}`;
  }
  return `${o.action} ${id} ${r.changed.map(said).join(', ')} ${where}`;
}

/** One change as the terminal line says it, without repeating the verb: `appended`, `ticked item 2: "run tests"`; values from the file are escaped. */
function said(change: string): string {
  if (change === 'note') return 'appended';
  const box = /^check (\d+): (.*)$/s.exec(change);
  if (box !== null) return `ticked item ${box[1]}: ${quoteText(box[2] as string)}`;
  return escapeControls(change);
}

export async function run(o: Options, cli: Cli): Promise<number> {
  const r = o.action === 'new'
    ? await createTask(o.dir, {
      title: o.edit.title ?? '',
      ...(o.edit.status === undefined ? {} : { status: o.edit.status }),
      ...(o.edit.priority === undefined ? {} : { priority: o.edit.priority }),
      fields: Object.fromEntries(Object.entries(o.edit.fields).filter((kv): kv is [string, string | string[]] => kv[1] !== null)),
    })
    : await editTask(o.dir, o.id as string, requestOf(o));
  if (o.json) cli.out(JSON.stringify({ action: o.action, ...r }));
  else cli.out(line(o, cli, r));
  return 0;
}
