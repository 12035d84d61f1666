// The edit verbs' keys (set, note, check, new): declared like the others, checked into one EditOptions.
import { usageError } from '../base/errors.ts';

export const EDIT_ACTIONS = ['set', 'note', 'check', 'new'] as const;
type EditAction = typeof EDIT_ACTIONS[number];

/** The keys of the edit verbs, in the shape of args.ts's KEYS. */
export const EDIT_KEYS = {
  status: { default: '', help: 'set, new: the status, canonical (in_progress) or the folder\'s own word (In Progress); written in the folder\'s own word' },
  text: { default: '', help: 'note: the line to append to the task\'s notes (dated)' },
  item: { default: '', help: 'check: the plan checkbox to tick, its number (1 is the first) or its text' },
  title: { default: '', help: 'new: the title (set: changes the title field)' },
  priority: { default: '', help: 'set, new: the priority field, as written (p1, high)' },
  version: { default: '', help: 'set, note, check: the version read (--json prints it); if the file changed since, nothing is written (exit 1)' },
  'field.<key>': { default: '', help: 'set, new: any other frontmatter key; a,b sets a list (a, for one item); an empty value removes the key' },
} as const;

/** What an edit verb was asked to do. */
export interface EditOptions {
  status: string | undefined;
  text: string | undefined;
  item: number | string | undefined;
  title: string | undefined;
  priority: string | undefined;
  version: string | undefined;
  /** field.<key>=value words: text, a list (a value with a comma), or null (empty: remove the key). */
  fields: Record<string, string | string[] | null>;
}

const FIELD = /^field\.([^=]*)=(.*)$/s;

/** True for a `field.<key>=value` word. */
export function isFieldWord(word: string): boolean {
  return FIELD.test(word);
}

/** Which verbs each key applies to: a key given to another action is a slip, said at once. */
const APPLIES: Record<string, readonly string[]> = {
  status: ['set', 'new'], text: ['note'], item: ['check'], title: ['set', 'new'], priority: ['set', 'new'], version: ['set', 'note', 'check'], field: ['set', 'new'],
};

/** Checks the edit keys against the action (each key for its verbs; each verb's required keys), into EditOptions. */
export function checkEdit(action: string, keys: Readonly<Record<string, string | undefined>>, fieldWords: readonly string[]): EditOptions {
  for (const [key, verbs] of Object.entries(APPLIES)) {
    const given = key === 'field' ? fieldWords.length > 0 : keys[key] !== undefined;
    if (given && !verbs.includes(action)) throw usageError(`key \`${key === 'field' ? 'field.<key>' : key}\` does not apply to \`${action}\`; it is for: ${verbs.join(', ')}`);
  }
  const fields: Record<string, string | string[] | null> = {};
  for (const word of fieldWords) {
    const m = FIELD.exec(word) as RegExpExecArray;
    const key = m[1] as string;
    const value = m[2] as string;
    if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/.test(key)) throw usageError(`\`field.${key}\` does not name a field; write field.<key>=value with a key of letters, digits, _ . - (e.g. field.labels=api,docs)`);
    if (key === 'id') throw usageError('`field.id` cannot be set: claims, runs and dependencies name the task by its id');
    if (['status', 'title', 'priority'].includes(key)) throw usageError(`write ${key}=… instead of field.${key}=…`);
    if (Object.hasOwn(fields, key)) throw usageError(`\`field.${key}\` given more than once; give it once`);
    fields[key] = value === '' ? null : value.includes(',') ? value.split(',').map((v) => v.trim()).filter((v) => v !== '') : value;
  }
  const verb = (EDIT_ACTIONS as readonly string[]).includes(action) ? (action as EditAction) : undefined;
  const text = keys['text'];
  const itemWord = keys['item'];
  if (verb === 'set' && keys['status'] === undefined && keys['title'] === undefined && keys['priority'] === undefined && fieldWords.length === 0) {
    throw usageError('`set` needs something to set: status=<status>, priority=…, title=… or field.<key>=value');
  }
  if (verb === 'note' && (text === undefined || text.trim() === '')) throw usageError('`note` needs text="…": the line to append to the task\'s notes');
  if (verb === 'check' && (itemWord === undefined || itemWord.trim() === '')) throw usageError('`check` needs item=<number or text>: the plan checkbox to tick');
  if (verb === 'new') {
    if (keys['title'] === undefined || keys['title'].trim() === '') throw usageError('`new` needs title="…"');
    if (keys['id'] !== undefined) throw usageError('`new` takes no id=: the folder\'s naming gives the new task its id');
  }
  const version = keys['version'];
  if (version !== undefined && !/^[0-9a-f]{16}$/.test(version)) throw usageError(`\`version\` must be the 16 hex digits a read printed (--json), got \`${version}\``);
  const item = itemWord === undefined ? undefined : /^[0-9]+$/.test(itemWord.trim()) ? Number(itemWord.trim()) : itemWord;
  return { status: keys['status'], text, item, title: keys['title'], priority: keys['priority'], version, fields };
}
