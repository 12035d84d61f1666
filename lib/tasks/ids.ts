// Limits on an id and a title, and the form ids are compared in (NFC): text from files anyone can write stays bounded and unambiguous.

/** Most characters of an id written in a file (`id:`); a file name is bounded by the file system (255 bytes). */
export const ID_MAX_CHARS = 200;
/** Most characters of a title. */
export const TITLE_MAX_CHARS = 1000;

/**
 * Why an id or a title is too long to be a task's, or undefined. Both reach environments, log
 * lines, the registry and every page: a 3 MB id made every spawn fail with E2BIG and every log
 * line 3 MB long. Characters are code points, as an editor counts them.
 */
export function lengthProblem(id: string | null, title: string): string | undefined {
  // A NUL or a lone surrogate cannot be stored as text (PostgreSQL refuses both): such an id would
  // fail every write of a shared registry, so it is a parse error like an overlong one.
  if (id !== null && (id.includes('\0') || /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(id))) return 'id holds a NUL or an unpaired surrogate, which cannot be stored; use printable characters';
  const idChars = id === null ? 0 : charCount(id);
  if (idChars > ID_MAX_CHARS) return `id is ${idChars} characters; the limit is ${ID_MAX_CHARS}`;
  const titleChars = charCount(title);
  if (titleChars > TITLE_MAX_CHARS) return `title is ${titleChars} characters; the limit is ${TITLE_MAX_CHARS}`;
  return undefined;
}

function charCount(text: string): number {
  // A code point is one or two UTF-16 units: no more code points than units.
  if (text.length <= ID_MAX_CHARS) return text.length;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff) n++;
  }
  return n;
}

/**
 * The form two ids are compared in: Unicode NFC. `café` typed as é (NFC) and as e + U+0301 (NFD,
 * what macOS file names and some editors give) look the same and are one id: two active files
 * holding them are a duplicate, and id= in either form names the task.
 */
export function idKey(id: string): string {
  return id.normalize('NFC');
}
