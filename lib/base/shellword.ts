// Text as one word of a POSIX shell command: the hints the tool prints (`just tasks retry id=…`) paste back exactly.
import { hasControls } from './controls.ts';

/** Characters that never need quoting in a POSIX shell word (no glob, no expansion, no separator). */
const SAFE = /^[A-Za-z0-9_.@%+=:,/-]+$/;

/**
 * One shell word that a POSIX shell (sh, dash, bash, zsh) reads back as exactly `text`: as it is
 * when it holds only safe characters; else in single quotes (`'\''` for a quote); and when it
 * holds a control character (a newline, an escape, a bidi control) as `"$(printf '…')"`, with
 * those characters written as octal escapes, so the hint itself stays one visible line and a
 * terminal never obeys what an id carries. (Command substitution drops trailing newlines; ids are
 * trimmed, so they have none.)
 */
export function shellWord(text: string): string {
  if (SAFE.test(text)) return text;
  if (!hasControls(text)) return `'${text.replace(/'/g, `'\\''`)}'`;
  const format = [...text].map((c) => {
    if (c === '%') return '%%';
    if (c === '\\') return '\\\\';
    if (c === "'") return `'\\''`;
    if (!hasControls(c)) return c;
    return [...Buffer.from(c, 'utf8')].map((b) => `\\${b.toString(8).padStart(3, '0')}`).join('');
  }).join('');
  return `"$(printf '${format}')"`;
}

/** `key=value` as one shell word (`id='X1 dir=/tmp'`): what a hint puts after the command. */
export function shellArg(key: string, value: string): string {
  return `${key}=${shellWord(value)}`;
}
