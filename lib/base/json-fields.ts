// The top-level fields of a JSON object as slices of its bytes, found without building their values: a reader parses only the fields it needs.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;

/** Bytes a number, true, false or null never holds: where one ends (a malformed one then fails the checks after it). */
const ENDS_SCALAR = new Set([COMMA, CLOSE_OBJECT, CLOSE_ARRAY, OPEN_OBJECT, OPEN_ARRAY, QUOTE, COLON]);

const isSpace = (b: number | undefined): boolean => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/**
 * Each top-level field of the JSON object in `bytes`, by key, as a slice of `bytes` (no copy); the
 * last one wins when a key repeats, as with JSON.parse. Undefined when the bytes are not one whole
 * object (truncated, an array, unpaired brackets, bytes after it): the caller reads them as it
 * reads a SyntaxError. The values are only delimited here, not checked: JSON.parse of a slice
 * still throws on a bad one, which costs that field only.
 *
 * A reader that needs a few fields of a large document (the heartbeat's snapshot, about 8 MB at
 * 50,000 tasks) parses those and builds nothing else. The scan walks bytes: every byte that
 * delimits JSON is ASCII, and no byte of a multi-byte UTF-8 character is.
 *
 * `keep`, given the bytes of a value (from `start` to just before `end`), says whether it is
 * wanted: a field it refuses gets no slice, and takes an earlier field of the same key with it
 * (the last one wins, as with JSON.parse).
 */
export function topFields(bytes: Buffer, keep?: (start: number, end: number) => boolean): ReadonlyMap<string, Buffer> | undefined {
  const n = bytes.length;
  let i = 0;
  const space = (): void => {
    while (isSpace(bytes[i])) i++;
  };
  /** From an opening quote to just past its closing one; -1 when the string never ends. */
  const skipString = (at: number): number => {
    for (let j = at + 1; j < n; j++) {
      const b = bytes[j];
      if (b === BACKSLASH) j++;
      else if (b === QUOTE) return j + 1;
    }
    return -1;
  };
  /** From a value's first byte to just past it; -1 when it never ends or its brackets do not pair. */
  const skipValue = (at: number): number => {
    const first = bytes[at];
    if (first === QUOTE) return skipString(at);
    if (first === OPEN_OBJECT || first === OPEN_ARRAY) {
      const closers: number[] = [];
      for (let j = at; j < n; j++) {
        const b = bytes[j];
        if (b === QUOTE) {
          j = skipString(j) - 1;
          if (j < 0) return -1;
        } else if (b === OPEN_OBJECT) closers.push(CLOSE_OBJECT);
        else if (b === OPEN_ARRAY) closers.push(CLOSE_ARRAY);
        else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
          if (closers.pop() !== b) return -1;
          if (closers.length === 0) return j + 1;
        }
      }
      return -1;
    }
    // A number, true, false or null: up to the next byte that cannot be part of one.
    let j = at;
    while (j < n && !ENDS_SCALAR.has(bytes[j] as number) && !isSpace(bytes[j])) j++;
    return j === at ? -1 : j;
  };

  const fields = new Map<string, Buffer>();
  space();
  if (bytes[i] !== OPEN_OBJECT) return undefined;
  i++;
  space();
  if (bytes[i] === CLOSE_OBJECT) i++;
  else {
    for (;;) {
      if (bytes[i] !== QUOTE) return undefined;
      const keyEnd = skipString(i);
      if (keyEnd < 0) return undefined;
      let key: unknown;
      try {
        key = JSON.parse(bytes.toString('utf8', i, keyEnd));
      } catch {
        return undefined;
      }
      i = keyEnd;
      space();
      if (bytes[i] !== COLON) return undefined;
      i++;
      space();
      const end = skipValue(i);
      if (end < 0) return undefined;
      if (keep === undefined || keep(i, end)) fields.set(key as string, bytes.subarray(i, end));
      else fields.delete(key as string);
      i = end;
      space();
      if (bytes[i] === COMMA) {
        i++;
        space();
        continue;
      }
      if (bytes[i] !== CLOSE_OBJECT) return undefined;
      i++;
      break;
    }
  }
  space();
  return i === n ? fields : undefined;
}

/** One field of topFields' answer, parsed; undefined when absent. Throws SyntaxError on a bad value, as JSON.parse does. */
export function parseField(fields: ReadonlyMap<string, Buffer>, key: string): unknown {
  const slice = fields.get(key);
  return slice === undefined ? undefined : JSON.parse(slice.toString('utf8')) as unknown;
}

/** One field parsed, or undefined when it is absent or not valid JSON: a bad field costs that field only. */
export function fieldOrNothing(fields: ReadonlyMap<string, Buffer>, key: string): unknown {
  try {
    return parseField(fields, key);
  } catch (err) {
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
}
