// Byte-exact frontmatter edits: one key's value replaced in its source range, every other byte (comments, quoting, order, CRLF, BOM) kept.
import YAML from 'yaml';
import type { Node as YamlNode, Pair, Scalar } from 'yaml';

/** A task file's text cut at its frontmatter: `head` is the BOM and the opening `---` line, `yaml` the frontmatter, `tail` the closing line and body. */
export interface Frontmatter { head: string; yaml: string; tail: string; eol: string }

/** Splits a file's text (BOM kept) at its frontmatter, or says why it has none usable. */
export function cutFrontmatter(text: string): Frontmatter | string {
  const bom = text.startsWith('\ufeff') ? '\ufeff' : '';
  const open = /^---[ \t]*(\r?\n)/.exec(text.slice(bom.length));
  if (open === null) return 'no frontmatter: the file must start with ---';
  const eol = open[1] as string;
  const start = bom.length + open[0].length;
  const rest = text.slice(start);
  const m = /(^|\n)---[ \t]*(?=\r?\n|$)/.exec(rest);
  if (m === null) return 'frontmatter is not closed by ---';
  const end = start + m.index + (m[1] ?? '').length;
  return { head: text.slice(0, start), yaml: text.slice(start, end), tail: text.slice(end), eol };
}

/** The frontmatter parsed for editing (failsafe: every value text), or why it does not parse. */
export function parseFrontmatter(yaml: string): YAML.Document.Parsed | string {
  const doc = YAML.parseDocument(yaml, { schema: 'failsafe', keepSourceTokens: true });
  const err = doc.errors.find((e) => e.code !== 'BAD_SCALAR_START');
  if (err !== undefined) return `invalid YAML in frontmatter: ${(err.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`;
  if (doc.contents !== null && !YAML.isMap(doc.contents)) return 'frontmatter is not a key: value mapping';
  return doc;
}

/** The top-level pair of a key, if the frontmatter has it. */
function pairOf(doc: YAML.Document.Parsed, key: string): Pair<YamlNode, YamlNode | null> | undefined {
  const map = doc.contents;
  if (!YAML.isMap(map)) return undefined;
  return (map.items as Pair<YamlNode, YamlNode | null>[]).find((p) => YAML.isScalar(p.key) && String(p.key.value) === key);
}

/** The value of a top-level key as text (a list's items joined by ', '), or undefined when absent. */
export function valueText(doc: YAML.Document.Parsed, key: string): string | undefined {
  const pair = pairOf(doc, key);
  if (pair === undefined) return undefined;
  const v = pair.value;
  if (v === null || v === undefined) return '';
  if (YAML.isScalar(v)) return v.value === null ? '' : String(v.value);
  if (YAML.isSeq(v)) return v.items.map((i) => (YAML.isScalar(i) ? String(i.value) : String(i))).join(', ');
  return String(v);
}

/** A plain scalar that every YAML reader reads back as this same text (core schema: `001`, `true`, `null` are not). */
function plainSafe(s: string): boolean {
  if (s === '' || s !== s.trim() || /[\n\r\t]/.test(s)) return false;
  try {
    const back = YAML.parse(`k: ${s}`) as unknown;
    return typeof back === 'object' && back !== null && (back as Record<string, unknown>)['k'] === s && !s.includes(' #');
  } catch {
    return false;
  }
}

/** A scalar's source in the style the old value had: single or double quotes kept, plain when safe, else double quotes. */
export function scalarSource(value: string, style: Scalar.Type | undefined): string {
  if (style === 'QUOTE_SINGLE' && !/[\n\r]/.test(value)) return `'${value.replace(/'/g, "''")}'`;
  if (style !== 'QUOTE_DOUBLE' && plainSafe(value)) return value;
  return JSON.stringify(value);
}

function listSource(items: readonly string[], padded: boolean): string {
  const inner = items.map((i) => scalarSource(i, undefined)).join(', ');
  return items.length === 0 ? '[]' : padded ? `[ ${inner} ]` : `[${inner}]`;
}

/**
 * The frontmatter with `key` set to `value` (null removes the key): only that value's source is
 * replaced (a scalar keeps its quoting, a flow list its padding, a block list stays a block list);
 * a new key is appended at the end in the file's line ending.
 */
export function setKey(yaml: string, doc: YAML.Document.Parsed, key: string, value: string | readonly string[] | null, eol: string): string {
  const pair = pairOf(doc, key);
  if (pair === undefined) {
    if (value === null) return yaml;
    const line = `${scalarSource(key, undefined)}: ${typeof value === 'string' ? scalarSource(value, undefined) : listSource(value, false)}`;
    const sep = yaml === '' || yaml.endsWith('\n') ? '' : eol;
    return `${yaml}${sep}${line}${eol}`;
  }
  const keyRange = (pair.key as YamlNode).range as [number, number, number];
  const node = pair.value;
  if (value === null) {
    const from = yaml.lastIndexOf('\n', keyRange[0] - 1) + 1;
    const last = node?.range?.[2] ?? keyRange[2];
    const nl = yaml.indexOf('\n', Math.max(last - 1, keyRange[2]));
    return yaml.slice(0, from) + yaml.slice(nl === -1 ? yaml.length : nl + 1);
  }
  const colon = yaml.indexOf(':', keyRange[1]);
  const [start, end] = node?.range ?? [colon + 1, colon + 1];
  const lead = yaml[start - 1] === ':' ? ' ' : '';
  let source: string;
  if (typeof value === 'string') {
    source = scalarSource(value, YAML.isScalar(node) ? node.type : undefined);
    if (YAML.isScalar(node) && (node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED')) source += eol;
  } else if (YAML.isSeq(node) && !node.flow) {
    const col = start - (yaml.lastIndexOf('\n', start - 1) + 1);
    const indent = ' '.repeat(col);
    if (value.length === 0) return yaml.slice(0, colon + 1) + ' []' + eol + yaml.slice(end);
    source = value.map((v) => `- ${scalarSource(v, undefined)}`).join(eol + indent) + eol;
  } else {
    const old = yaml.slice(start, end);
    source = listSource(value, YAML.isSeq(node) && /^\[[ \t]/.test(old));
  }
  return yaml.slice(0, start) + lead + source + yaml.slice(end);
}
