// File names that are not UTF-8: readdir mangles them into names that open nothing, so such a folder is read again as bytes.
import { isUtf8 } from 'node:buffer';
import fs from 'node:fs';
import type { ParseError } from './taskfile.ts';

/**
 * The entries of a folder (`abs`, `rel` from the tasks folder) whose names readdir gave back with
 * U+FFFD, read again as bytes. A name that is UTF-8 after all (it holds U+FFFD itself) is returned
 * to be taken as usual. A `.md` file or a folder whose name is not UTF-8 becomes a parse error, its
 * bad bytes shown as `\xff`: not a task, since its slug would name a run log, a worktree and a
 * branch, and no path in JSON can name the file. Hidden entries are skipped as everywhere.
 * Throws what readdir throws.
 */
export function nonUtf8Entries(rel: string, abs: string): { entries: { name: string; dirent: fs.Dirent<Buffer> }[]; errors: ParseError[] } {
  const entries: { name: string; dirent: fs.Dirent<Buffer> }[] = [];
  const errors: ParseError[] = [];
  for (const dirent of fs.readdirSync(abs, { withFileTypes: true, encoding: 'buffer' })) {
    const raw = dirent.name;
    if (raw[0] === 0x2e || !raw.toString().includes('\ufffd')) continue; // hidden, or read by the string walk already
    if (isUtf8(raw)) {
      entries.push({ name: raw.toString(), dirent });
      continue;
    }
    const where = `${rel === '' ? '' : `${rel}/`}${escapeName(raw)}`;
    if (dirent.isDirectory()) errors.push({ path: `${where}/`, reason: 'folder name is not valid UTF-8, so its files are not read; rename it' });
    else if (dirent.isFile() && raw.subarray(-3).equals(MD)) errors.push({ path: where, reason: 'file name is not valid UTF-8; rename it' });
  }
  return { entries, errors };
}

const MD = Buffer.from('.md');

/** A name that is not UTF-8, readable and printable: its valid characters kept, every other byte (and a control character or a backslash) as `\xNN`. */
function escapeName(raw: Buffer): string {
  let out = '';
  for (let i = 0; i < raw.length;) {
    const size = Math.max(utf8Length(raw, i), 1);
    const ch = raw.toString('utf8', i, i + size);
    if (utf8Length(raw, i) === 0 || /^[\u0000-\u001f\u007f-\u009f\\]$/.test(ch)) {
      for (const byte of raw.subarray(i, i + size)) out += `\\x${byte.toString(16).padStart(2, '0')}`;
    } else out += ch;
    i += size;
  }
  return out;
}

/** The length of the well-formed UTF-8 sequence at `i` (1 to 4 bytes), or 0 when the byte there starts none. */
function utf8Length(b: Buffer, i: number): number {
  const lead = b[i] as number;
  const size = lead < 0x80 ? 1 : lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
  return size !== 0 && i + size <= b.length && isUtf8(b.subarray(i, i + size)) ? size : 0;
}
