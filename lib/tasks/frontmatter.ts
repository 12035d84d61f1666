// Frontmatter: a task file split into tolerant YAML fields (every value text) and its body, or why it cannot be.
import YAML from 'yaml';
import type { Node as YamlNode, Document } from 'yaml';
import { fastFields } from './frontmatter-fast.ts';

/** Aliases can expand a small document exponentially or into a cycle; past these it is refused. */
const MAX_VALUES = 10_000;
const MAX_DEPTH = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export type Fields = { [key: string]: Value };
/** A file split into frontmatter and body, or why it cannot be: `text` when it was readable, `bare` when it has no frontmatter at all. */
export type Split = { ok: true; fields: Fields; body: string } | { ok: false; reason: string; text?: string; bare?: boolean };

export type Value = string | null | Value[] | { [key: string]: Value };

/** Whether splitFile tries the hand-written reader first; off only in bench/scan.ts (the yaml-only figure) and the differential test. */
export const frontmatterReader = { fast: true };

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
  if (text.includes('\r')) text = text.replace(/\r\n?/g, '\n');
  if (!/\S/.test(text)) return fail('empty file', text, true);

  const fence = fenced(text);
  if (fence === 'none') return fail('no frontmatter: the file must start with ---', text, true);
  if (fence === 'open') return fail('frontmatter is not closed by ---', text);
  // Copies of their own, not slices of the file's whole text: the values read from the frontmatter
  // are slices of it, and would keep the whole text in memory after the body is dropped (the
  // heartbeat's scan keeps no bodies): at 50,000 tasks, 50 MB of task files kept by their titles.
  const source = Buffer.from(fence.source).toString();
  const body = Buffer.from(fence.body).toString();

  // The common simple frontmatter is read by hand (several times faster); anything else by the yaml library.
  const fast = frontmatterReader.fast ? fastFields(source) : undefined;
  if (fast !== undefined) return { ok: true, fields: fast, body };
  const doc = YAML.parseDocument(source, { schema: 'failsafe' });
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

/** A line that opens or closes the frontmatter. */
const FENCE = /^---[ \t]*$/;

/**
 * The frontmatter (the lines between line 1's --- and the next --- line) and the body after it,
 * found by searching the text rather than splitting it into lines: this runs on every file a scan reads.
 */
function fenced(text: string): { source: string; body: string } | 'none' | 'open' {
  const first = lineEnd(text, 0);
  if (!FENCE.test(text.slice(0, first))) return 'none';
  for (let at = text.indexOf('\n---', first); at >= 0; at = text.indexOf('\n---', at + 1)) {
    const end = lineEnd(text, at + 1);
    if (FENCE.test(text.slice(at + 1, end))) return { source: text.slice(first + 1, at), body: text.slice(end + 1) };
  }
  return 'open';
}

/** The index of the newline ending the line that starts at from, or the text's length. */
function lineEnd(text: string, from: number): number {
  const i = text.indexOf('\n', from);
  return i < 0 ? text.length : i;
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
