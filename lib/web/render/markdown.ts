// Task bodies to safe HTML: no raw HTML, unsafe link schemes dropped, GFM alerts, HTML comments hidden.
import MarkdownIt from 'markdown-it';
import type { StateBlock, StateCore, Token } from 'markdown-it';

const ALLOWED_SCHEMES = new Set(['http', 'https', 'mailto']);

/**
 * True for a URL that is relative or uses http, https or mailto. Anything that looks like a scheme
 * (text before the first ':' with no '/', '?' or '#' before it) must be one of those, so encoded
 * tricks such as `jav%09ascript:` are refused rather than guessed at.
 */
export function isSafeUrl(url: string): boolean {
  // Browsers ignore leading C0 controls and spaces, and drop tabs and newlines anywhere in a URL.
  const s = url.replace(/^[\u0000-\u0020]+/, '').replace(/[\t\n\r]/g, '');
  const colon = s.indexOf(':');
  if (colon < 0) return true;
  const prefix = s.slice(0, colon);
  if (/[/?#]/.test(prefix)) return true;
  return ALLOWED_SCHEMES.has(prefix.toLowerCase());
}

/** True for an absolute http(s) URL: the only kind a frontmatter field such as `pr` may link to. */
export function isWebUrl(url: string): boolean {
  return /^https?:\/\/[^\s]+$/i.test(url);
}

// html: false shows raw HTML in task files as text; links and images are filtered by isSafeUrl.
const md = new MarkdownIt('default', { html: false, linkify: false, typographer: false });
md.validateLink = isSafeUrl;
// Before 'html_block' (off while html is false), and able to end a paragraph or a list item's lazy line.
md.block.ruler.before('table', 'html_comment', htmlComment, { alt: ['paragraph', 'reference', 'blockquote', 'list'] });
md.core.ruler.after('block', 'drop_title', dropTitle);
md.core.ruler.after('block', 'gfm_alerts', gfmAlerts);
md.core.ruler.push('task_checkboxes', taskCheckboxes);
md.core.ruler.push('align_classes', alignClasses);
md.renderer.rules['task_checkbox'] = (tokens, idx) =>
  `<input type="checkbox" disabled${tokens[idx]?.meta?.['checked'] === true ? ' checked' : ''}> `;
md.renderer.rules['alert_title'] = (tokens, idx) => `<p class="markdown-alert-title">${md.utils.escapeHtml(String(tokens[idx]?.content ?? ''))}</p>\n`;

export interface MarkdownOptions {
  /** The title the page shows already: a first `# ` heading that reads the same is not repeated. */
  readonly title?: string;
}

/**
 * Renders a task body to HTML: CommonMark without raw HTML, unsafe links dropped, `- [ ]` items as
 * disabled checkboxes, GFM alerts (`> [!NOTE]`) as callouts, HTML comments (Backlog.md's
 * `<!-- SECTION:…:BEGIN -->` markers) left out, and a first H1 equal to `title` dropped.
 */
export function renderMarkdown(body: string, options: MarkdownOptions = {}): string {
  return md.render(body, { title: options.title });
}

/** GitHub's alert kinds and the title each callout shows. */
export const ALERT_KINDS: Readonly<Record<string, string>> = { note: 'Note', tip: 'Tip', important: 'Important', warning: 'Warning', caution: 'Caution' };

const ALERT = /^\[!(note|tip|important|warning|caution)\][ \t]*(?:\n|$)/i;

/**
 * A blockquote whose first line is only `[!NOTE]` (TIP, IMPORTANT, WARNING, CAUTION; any case)
 * becomes `<div class="markdown-alert markdown-alert-note">` (GitHub's class names) with a title
 * paragraph; the marker line is removed.
 * Runs before inline parsing, so it edits the paragraph's source text.
 */
function gfmAlerts(state: StateCore): void {
  const tokens = state.tokens;
  for (let i = 0; i < tokens.length; i++) {
    const open = tokens[i] as Token;
    const inline = tokens[i + 2];
    if (open.type !== 'blockquote_open' || tokens[i + 1]?.type !== 'paragraph_open' || inline?.type !== 'inline') continue;
    const m = ALERT.exec(inline.content);
    if (m === null) continue;
    const kind = (m[1] as string).toLowerCase();
    const close = tokens.findIndex((t, j) => j > i && t.type === 'blockquote_close' && t.level === open.level);
    if (close < 0) continue;
    open.tag = 'div';
    open.attrJoin('class', `markdown-alert markdown-alert-${kind}`);
    (tokens[close] as Token).tag = 'div';
    inline.content = inline.content.slice(m[0].length);
    const title = new state.Token('alert_title', '', 0);
    title.content = ALERT_KINDS[kind] as string;
    title.block = true;
    title.level = open.level + 1;
    // A marker alone in its paragraph leaves an empty paragraph: drop it.
    if (inline.content.trim() === '') tokens.splice(i + 1, 3, title);
    else tokens.splice(i + 1, 0, title);
  }
}

/** A first level-1 heading whose text equals the page title (spaces and case aside) is left out: the page shows the title above. */
function dropTitle(state: StateCore): void {
  const title = (state.env as { title?: unknown } | undefined)?.title;
  if (typeof title !== 'string') return;
  const tokens = state.tokens;
  const i = tokens.findIndex((t) => t.type === 'heading_open' && t.tag === 'h1');
  if (i < 0 || tokens[i + 2]?.type !== 'heading_close') return;
  const fold = (s: string): string => s.replace(/\s+/g, ' ').trim().toLowerCase();
  if (fold(tokens[i + 1]?.content ?? '') === fold(title)) tokens.splice(i, 3);
}

/**
 * An HTML comment that starts a line and ends a line (one line or several, with no blank line
 * between: a stray `<!--` must not swallow the rest of the body) renders as nothing, as on GitHub. Backlog.md wraps sections in `<!-- SECTION:DESCRIPTION:BEGIN -->` … `END -->` and
 * acceptance criteria in `<!-- AC:BEGIN -->`; the text between them renders as usual. Raw HTML
 * stays off: any other tag is still shown as text.
 */
function htmlComment(state: StateBlock, startLine: number, endLine: number, silent: boolean): boolean {
  if ((state.sCount[startLine] as number) - state.blkIndent >= 4) return false;
  const from = (state.bMarks[startLine] as number) + (state.tShift[startLine] as number);
  if (!state.src.startsWith('<!--', from)) return false;
  for (let line = startLine; line < endLine; line++) {
    const start = line === startLine ? from + 4 : (state.bMarks[line] as number) + (state.tShift[line] as number);
    const text = state.src.slice(start, state.eMarks[line]);
    if (line > startLine && text.trim() === '') return false;
    const end = text.indexOf('-->');
    if (end < 0) continue;
    // Text after the comment on its last line would be lost: then it is not a comment line.
    if (text.slice(end + 3).trim() !== '') return false;
    if (!silent) state.line = line + 1;
    return true;
  }
  return false;
}

const BOX = /^\[([ xX])\](?:\s+|$)/;

/** Turns a list item whose text starts with `[ ]` or `[x]` into a disabled checkbox, as the parser counts them. */
function taskCheckboxes(state: StateCore): void {
  const tokens = state.tokens;
  for (let i = 2; i < tokens.length; i++) {
    const inline = tokens[i] as Token;
    if (inline.type !== 'inline' || tokens[i - 1]?.type !== 'paragraph_open' || tokens[i - 2]?.type !== 'list_item_open') continue;
    const first = inline.children?.[0];
    if (first === undefined || first.type !== 'text') continue;
    const m = BOX.exec(first.content);
    if (m === null) continue;
    first.content = first.content.slice(m[0].length);
    const box = new state.Token('task_checkbox', '', 0);
    box.meta = { checked: m[1] !== ' ' };
    inline.children?.unshift(box);
    (tokens[i - 2] as Token).attrJoin('class', 'task');
  }
}

/**
 * Table alignment as a class (`align-right`) instead of markdown-it's `style="text-align:right"`:
 * the pages run under a Content-Security-Policy whose style-src refuses style attributes.
 */
function alignClasses(state: StateCore): void {
  for (const token of state.tokens) {
    if ((token.type !== 'th_open' && token.type !== 'td_open') || token.attrs === null) continue;
    const align = /^text-align:(left|center|right)$/.exec(String(token.attrGet('style') ?? ''));
    token.attrs = token.attrs.filter(([name]) => name !== 'style');
    if (align !== null) token.attrJoin('class', `align-${align[1]}`);
  }
}
