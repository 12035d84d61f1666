// Run-log lines as the pages show them (server and browser alike): colour codes dropped, control characters visible, long lines cut.

/** Characters of one log line a page shows; the API gives the whole line. */
export const LINE_MAX = 2000;

/**
 * One log line for display: terminal escape sequences (colours, cursor moves) removed, a carriage
 * return keeps what was written after it (a progress bar's last state), other control characters
 * shown as their Unicode pictures (␛, ␀), and a line past LINE_MAX cut with a note.
 */
export function showLine(line: string): string {
  let s = line.replace(/\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-_]/g, '');
  const cr = s.lastIndexOf('\r', s.length - 2);
  if (cr >= 0) s = s.slice(cr + 1);
  s = s.replace(/\r$/, '');
  s = s.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, (c) => String.fromCharCode(c === '\u007f' ? 0x2421 : 0x2400 + c.charCodeAt(0)));
  return s.length > LINE_MAX ? `${s.slice(0, LINE_MAX)} … (${s.length - LINE_MAX} more characters)` : s;
}

/** The log text of a `<pre>`: each line shown, one per line. */
export function showLines(lines: readonly string[]): string {
  return lines.map(showLine).join('\n');
}
