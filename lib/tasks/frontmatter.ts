// Frontmatter: a task file split into tolerant YAML fields (every value text) and its body, or why it cannot be.
import YAML from 'yaml';
import type { Node as YamlNode, Document } from 'yaml';

/** Aliases can expand a small document exponentially or into a cycle; past these it is refused. */
const MAX_VALUES = 10_000;
const MAX_DEPTH = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export type Fields = { [key: string]: Value };
/** A file split into frontmatter and body, or why it cannot be: `text` when it was readable, `bare` when it has no frontmatter at all. */
export type Split = { ok: true; fields: Fields; body: string } | { ok: false; reason: string; text?: string; bare?: boolean };

export type Value = string | null | Value[] | { [key: string]: Value };

/** Converts a failsafe YAML node: every scalar is text, an unquoted empty/~/null is null. */
function toValue(node: unknown, doc: Document, budget: { left: number }, depth: number): Value | undefined {
  if (--budget.left < 0 || depth > MAX_DEPTH) return undefined;
  if (node === null || node === undefined) return null;
  if (YAML.isAlias(node)) return toValue(node.resolve(doc), doc, budget, depth + 1);
  if (YAML.isScalar(node)) {
    const value = node.value === null || node.value === undefined ? '' : String(node.value);
    const plain = node.type === 'PLAIN' || node.type === undefined;
    return plain && /^(|~|null|Null|NULL)$/.test(value) ? null : value;
  }
  if (YAML.isSeq(node)) {
    const out: Value[] = [];
    for (const item of node.items) {
      const value = toValue(item, doc, budget, depth + 1);
      if (value === undefined) return undefined;
      out.push(value);
    }
    return out;
  }
  if (YAML.isMap(node)) {
    const out: { [key: string]: Value } = {};
    for (const pair of node.items) {
      const key = toValue(pair.key, doc, budget, depth + 1);
      const value = toValue(pair.value, doc, budget, depth + 1);
      if (key === undefined || value === undefined) return undefined;
      const name = typeof key === 'string' ? key : key === null ? '' : JSON.stringify(key);
      // defineProperty, so a `__proto__:` key is kept as data instead of replacing the prototype.
      Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return String((node as YamlNode).toString());
}

/** Splits a file into its frontmatter's fields and its body; never throws on content (a bug may). */
export function splitFile(content: Buffer): Split {
  const fail = (reason: string, text?: string, bare = false): Split => (text === undefined ? { ok: false, reason } : { ok: false, reason, text, bare });
  if (content.length === 0) return fail('empty file', '', true);
  if (content.includes(0)) return fail('not a UTF-8 text file');
  let text: string;
  try {
    text = utf8.decode(content); // drops a leading BOM
  } catch (err) {
    if (err instanceof TypeError) return fail('not a UTF-8 text file');
    throw err;
  }
  text = text.replace(/\r\n?/g, '\n');
  if (text.trim() === '') return fail('empty file', text, true);

  const lines = text.split('\n');
  if (!/^---[ \t]*$/.test(lines[0] ?? '')) return fail('no frontmatter: the file must start with ---', text, true);
  const close = lines.findIndex((line, i) => i > 0 && /^---[ \t]*$/.test(line));
  if (close < 0) return fail('frontmatter is not closed by ---', text);
  const body = lines.slice(close + 1).join('\n');

  const doc = YAML.parseDocument(lines.slice(1, close).join('\n'), { schema: 'failsafe' });
  // `assignee: @dave`, `[@a, b]`: YAML reserves @ and ` at the start of a plain value, but the
  // value is unambiguous, so it is read as the text written, as if quoted.
  const yamlError = doc.errors.find((e) => e.code !== 'BAD_SCALAR_START');
  if (yamlError !== undefined) return fail(`invalid YAML in frontmatter${fileLine(yamlError.linePos?.[0])}: ${yamlMessage(yamlError.message)}`, body);
  const fm = toValue(doc.contents, doc, { left: MAX_VALUES }, 0);
  if (fm === undefined) return fail('frontmatter is too large or nested too deeply (aliases?)', body);
  // An empty frontmatter (--- then ---) is a task with every field defaulted.
  const fields = fm === null ? {} : fm;
  if (typeof fields !== 'object' || Array.isArray(fields)) return fail('frontmatter is not a key: value mapping', body);
  return { ok: true, fields, body };
}

/**
 * A YAML mapping (a folder's config file) read like frontmatter: every value text, `@` and `` ` ``
 * at a value's start tolerated. Undefined when it is not a readable mapping.
 */
export function parseYamlMapping(text: string): Record<string, unknown> | undefined {
  try {
    const doc = YAML.parseDocument(text, { schema: 'failsafe' });
    if (doc.errors.some((e) => e.code !== 'BAD_SCALAR_START')) return undefined;
    const value = toValue(doc.contents, doc, { left: MAX_VALUES }, 0);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** ' at line 3' with the line counted in the file (the frontmatter starts on line 2). */
function fileLine(pos: { line: number; col: number } | undefined): string {
  return pos === undefined ? '' : ` at line ${pos.line + 1}`;
}

/** The YAML library's message without its own position and source excerpt. */
function yamlMessage(message: string): string {
  return firstLine(message).replace(/ at line \d+, column \d+:?$/, '').replace(/:$/, '');
}

/** The first line of a message, trimmed. */
export function firstLine(message: string): string {
  return (message.split('\n')[0] ?? '').trim();
}
