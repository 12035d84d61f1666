// Control characters in text from files anyone can write (ids, titles): escaped visibly in log files, removed on a terminal.

/** C0 controls, DEL and the C1 controls (U+0080-U+009F: U+009B opens an escape sequence in some terminals, like ESC [). */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;
/** The same, but newline and tab: what a terminal may be given as it is. */
const CONTROLS_BUT_LAYOUT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Every control character escaped visibly (`\n`, `\r`, `\t`, `\u001b`, `\u009b`), newlines included:
 * one call is one line, so an id holding a newline can never start a line of its own in a log
 * (nor a shell line in a file that is sourced), and an ESC or CSI never reaches a terminal that
 * shows the log. A backslash is left as it is: the escapes are for reading, not for parsing back.
 */
export function escapeControls(text: string): string {
  return text.replace(CONTROLS, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Control characters removed, newline and tab kept: multi-line messages stay readable on a terminal. */
export function stripControls(text: string): string {
  return text.replace(CONTROLS_BUT_LAYOUT, '');
}
