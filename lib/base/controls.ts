// Control characters in text from files anyone can write (ids, titles): escaped visibly in log files, removed on a terminal.

/**
 * C0 controls, DEL, the C1 controls (U+0080-U+009F: U+009B opens an escape sequence in some
 * terminals, like ESC [), the line and paragraph separators (U+2028, U+2029: a line break to
 * JavaScript and to some viewers) and the bidi controls (U+200E, U+200F, U+202A-U+202E,
 * U+2066-U+2069: they reorder what a terminal shows, so `evil.sh\u202Etxt.md` reads as another name).
 */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/** The same, but newline and tab: what a terminal may be given as it is. */
const CONTROLS_BUT_LAYOUT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/** Whether a text holds any of them (no g flag: test() keeps no state). */
const HAS_CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Every control character escaped visibly (`\n`, `\r`, `\t`, `\u001b`, `\u009b`, `\u202e`),
 * newlines included: one call is one line, so an id holding a newline can never start a line of
 * its own in a log (nor a shell line in a file that is sourced), and an ESC, CSI or bidi override
 * never reaches a terminal that shows the log. A backslash is left as it is: the escapes are for
 * reading, not for parsing back.
 */
export function escapeControls(text: string): string {
  return text.replace(CONTROLS, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Control characters removed, newline and tab kept: multi-line messages stay readable on a terminal. */
export function stripControls(text: string): string {
  return text.replace(CONTROLS_BUT_LAYOUT, '');
}

/** True when the text holds a control character of any kind above (newline and tab included). */
export function hasControls(text: string): boolean {
  return HAS_CONTROL.test(text);
}

/** Every invisible format or control character (Cc, Cf, Zl, Zp: zero-width spaces and tag characters too). */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/**
 * An id, a title, a word or a path inside a one-line message: as written, or in double quotes with
 * `"` and `\` escaped and every control or invisible format character escaped (`\n`, `\u202e`)
 * when it holds a space, a quote, a backtick or such a character. The result is always one line,
 * and shows where the value starts and ends: `failed     "C3\nfailed FAKE"` never reads as two lines.
 */
export function quoteText(text: string): string {
  if (text !== '' && !/[\s"`\\]/.test(text) && !/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(text)) return text;
  const escaped = text.replace(/[\\"]/g, (c) => `\\${c}`).replace(INVISIBLE, (c) => {
    const code = c.codePointAt(0) ?? 0;
    return NAMED[c] ?? (code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`);
  });
  return `"${escaped}"`;
}
