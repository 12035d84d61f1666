// Frontmatter's fast path: the common, simple subset of YAML read by hand, or undefined so the yaml library reads it.

// Why: parsing with the yaml library was ~90% of a cold scan (2 s of 2.2 s at 10,000 tasks). This
// reads what Backlog.md, taskmd and our own files hold (`key: text`, quoted text, `[a, 'b']`, a
// `- item` list, a long title folded as `>-`) and gives up on anything else, however valid: it must
// return exactly what the yaml path returns, so whatever it is not certain of (comments, anchors,
// tags, other block scalars, multi-line values, escapes, duplicate keys, odd indentation) is left
// to the yaml path.

/** What this reader gives: text, null or a list of them (a subset of frontmatter.ts's Value, declared here so the two modules do not import each other). */
type Value = string | null | Value[];
type Fields = { [key: string]: Value };

/** A key read here: a plain word, never a null spelling, short enough for YAML's implicit-key limit. */
const KEY = /^[A-Za-z0-9_][A-Za-z0-9_./-]{0,127}$/;
/** Plain (unquoted) values the failsafe reading turns into null. */
function isNull(v: string): boolean {
  return v.length <= 4 && (v === '' || v === '~' || v === 'null' || v === 'Null' || v === 'NULL');
}
/** Characters YAML treats specially anywhere, or that only its own reader should judge: tabs and other controls, BOM, line separators, non-characters. */
const UNSURE = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]/;
/** A plain value may not start with these (flow, comment, anchor, alias, tag, block scalar, directive, reserved); `@` and `` ` `` are read as text, as the yaml path does. */
const BAD_FIRST = '[]{}#&*!|>%,?:\'"';
/** Beyond this many values the yaml path decides (it refuses past 10,000). */
const MAX_VALUES = 5_000;

/** The fields of a frontmatter (the text between the --- lines, LF line ends), or undefined when the yaml path must read it. */
export function fastFields(text: string): Fields | undefined {
  if (UNSURE.test(text)) return undefined;
  const lines = text.split('\n');
  const fields: Fields = {};
  let values = 0;
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] as string;
    i++;
    if (isBlank(line)) continue;
    const colon = line.indexOf(':');
    const key = line.slice(0, colon);
    // Duplicates are an error the yaml path reports; a null spelling as a key is left to it too.
    if (colon <= 0 || !KEY.test(key) || isNull(key) || Object.hasOwn(fields, key)) return undefined;
    const rest = trimEnd(line.slice(colon + 1));
    let value: Value | undefined;
    if (rest === '') {
      const list = blockList(lines, i);
      if (list === undefined) return undefined;
      value = list.items;
      i = list.next;
    } else {
      if (rest.charCodeAt(0) !== 32) return undefined; // `key:value` is not a key and a value
      const v = trimStart(rest);
      if (BLOCK_HEADERS.has(v)) {
        const block = blockScalar(lines, i, v);
        if (block === undefined) return undefined;
        value = block.text;
        i = block.next;
      } else {
        value = v.charCodeAt(0) === 91 ? flowList(v) : scalar(v); // [
      }
    }
    if (value === undefined) return undefined;
    values += 2 + (Array.isArray(value) ? value.length : 0);
    if (values > MAX_VALUES) return undefined;
    // defineProperty, so a `__proto__:` key is kept as data, as the yaml path keeps it.
    if (key === '__proto__') Object.defineProperty(fields, key, { value, enumerable: true, writable: true, configurable: true });
    else fields[key] = value;
  }
  return fields;
}

/**
 * What follows a `key:` with nothing after it: null, or a block list of simple items, each `- item`
 * at one indent (the key's own indent is allowed, as YAML allows). Undefined when anything else is
 * indented below the key (a nested mapping, a value on the next line, a continued item).
 */
function blockList(lines: readonly string[], from: number): { items: Value; next: number } | undefined {
  let j = from;
  while (j < lines.length && isBlank(lines[j] as string)) j++;
  if (j === lines.length) return { items: null, next: j };
  const first = lines[j] as string;
  const indent = indentOf(first);
  if (indent === 0 && first.charCodeAt(0) !== 45) return { items: null, next: from }; // the next key: a null value
  const items: Value[] = [];
  for (; j < lines.length; j++) {
    const line = lines[j] as string;
    if (isBlank(line)) continue;
    const ind = indentOf(line);
    if (ind === indent && line.charCodeAt(ind) === 45 && (line.length === ind + 1 || line.charCodeAt(ind + 1) === 32)) {
      const item = trimStart(trimEnd(line.slice(ind + 1)));
      // `- ` alone is a null item; a nested list or flow list is left to the yaml path.
      const value = item === '' ? null : item.charCodeAt(0) === 91 ? undefined : scalar(item);
      if (value === undefined) return undefined;
      items.push(value);
    } else if (ind === 0 && (indent > 0 || line.charCodeAt(0) !== 45)) {
      break; // the next key (checked by the caller)
    } else {
      return undefined;
    }
  }
  return { items, next: j };
}

/** Block scalar headers read here: Backlog.md writes a long title as `title: >-` and its lines below. */
const BLOCK_HEADERS = new Set(['>-', '>', '|-', '|']);

/**
 * The text of a block scalar whose lines are all at one indent, with no blank line before its last
 * line and no trailing space or line of spaces: folded (`>`) lines joined by a space, literal (`|`) by a newline, and a
 * final newline unless chomped (`-`). Undefined for anything else (more-indented lines, inner blank lines).
 */
function blockScalar(lines: readonly string[], from: number, header: string): { text: string; next: number } | undefined {
  const first = lines[from];
  const indent = first === undefined ? 0 : indentOf(first);
  if (indent === 0) return undefined;
  const parts: string[] = [];
  let j = from;
  for (; j < lines.length; j++) {
    const line = lines[j] as string;
    if (isBlank(line)) break;
    const ind = indentOf(line);
    if (ind === 0) break;
    if (ind !== indent || line.charCodeAt(line.length - 1) === 32) return undefined;
    parts.push(line.slice(indent));
  }
  if (parts.length === 0) return undefined;
  // Empty lines may only trail the block (chomping drops them); more text after one, or a line of
  // spaces (which may be text in a block scalar), is left to the yaml path.
  let k = j;
  while (k < lines.length && lines[k] === '') k++;
  if (k < lines.length && isBlank(lines[k] as string)) return undefined;
  if (k < lines.length && indentOf(lines[k] as string) !== 0) return undefined;
  const text = parts.join(header[0] === '>' ? ' ' : '\n');
  return { text: header.endsWith('-') ? text : `${text}\n`, next: j };
}

/** One scalar on one line, without surrounding spaces: quoted or plain; undefined when unsure. */
function scalar(v: string): Value | undefined {
  const c = v[0] as string;
  if (c === "'") return singleQuoted(v);
  if (c === '"') return doubleQuoted(v);
  if (BAD_FIRST.includes(c)) return undefined;
  // `- x` (or `-` alone) would be a list; `: ` a mapping; ` #` a comment; a trailing `:` a key.
  if (c === '-' && (v.length === 1 || v.charCodeAt(1) === 32)) return undefined;
  if (v.includes(': ') || v.includes(' #') || v.endsWith(':')) return undefined;
  return isNull(v) ? null : v;
}

/** `'text'` with `''` for a quote; undefined when a lone quote would end it early. */
function singleQuoted(v: string): string | undefined {
  if (v.length < 2 || !v.endsWith("'")) return undefined;
  const inner = v.slice(1, -1);
  if (!inner.includes("'")) return inner;
  if (inner.replaceAll("''", '').includes("'")) return undefined;
  return inner.replaceAll("''", "'");
}

/** `"text"` without escapes; a backslash or an inner quote is left to the yaml path. */
function doubleQuoted(v: string): string | undefined {
  if (v.length < 2 || !v.endsWith('"')) return undefined;
  const inner = v.slice(1, -1);
  return inner.includes('"') || inner.includes('\\') ? undefined : inner;
}

/** `[a, 'b', "c"]` with simple items and no trailing comma; undefined otherwise. */
function flowList(v: string): Value[] | undefined {
  if (!v.endsWith(']')) return undefined;
  const end = v.length - 1;
  const items: Value[] = [];
  let p = skipSpaces(v, 1, end);
  if (p === end) return items;
  for (;;) {
    const c = v[p];
    let next: number;
    if (c === "'" || c === '"') {
      const close = closingQuote(v, p, end);
      if (close < 0) return undefined;
      const item = c === "'" ? singleQuoted(v.slice(p, close + 1)) : doubleQuoted(v.slice(p, close + 1));
      if (item === undefined) return undefined;
      items.push(item);
      next = close + 1;
    } else {
      let k = p;
      while (k < end && v.charCodeAt(k) !== 44) k++; // ,
      const raw = trimEnd(v.slice(p, k));
      // A flow item is stricter than a block value: no brackets, braces, quotes, comments or colons inside.
      if (raw === '' || /[[\]{}#'":]/.test(raw) || BAD_FIRST.includes(raw[0] as string)) return undefined;
      if (raw[0] === '-' && (raw.length === 1 || raw.charCodeAt(1) === 32)) return undefined;
      items.push(isNull(raw) ? null : raw);
      next = k;
    }
    p = skipSpaces(v, next, end);
    if (p === end) return items;
    if (v.charCodeAt(p) !== 44) return undefined;
    p = skipSpaces(v, p + 1, end);
    if (p === end) return undefined; // `[a, ]`: a trailing comma is left to the yaml path
  }
}

/** The index of the quote closing the one at p (a doubled ' inside single quotes is text), or -1. */
function closingQuote(v: string, p: number, end: number): number {
  const q = v[p] as string;
  let k = p + 1;
  for (;;) {
    k = v.indexOf(q, k);
    if (k < 0 || k >= end) return -1;
    if (q === "'" && v[k + 1] === "'") k += 2;
    else return k;
  }
}

function skipSpaces(v: string, p: number, end: number): number {
  while (p < end && v.charCodeAt(p) === 32) p++;
  return p;
}

function indentOf(line: string): number {
  let n = 0;
  while (line.charCodeAt(n) === 32) n++;
  return n;
}

/** Empty or spaces only (tabs never reach here). */
function isBlank(line: string): boolean {
  return indentOf(line) === line.length;
}

// Only spaces: String.trim would also take a no-break space, which YAML keeps as text.
function trimEnd(s: string): string {
  let e = s.length;
  while (e > 0 && s.charCodeAt(e - 1) === 32) e--;
  return e === s.length ? s : s.slice(0, e);
}

function trimStart(s: string): string {
  const n = indentOf(s);
  return n === 0 ? s : s.slice(n);
}
