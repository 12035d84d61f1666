// Task bodies to safe HTML: no raw HTML, unsafe link schemes dropped.
import MarkdownIt from 'markdown-it';
import type { StateCore, Token } from 'markdown-it';

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
md.core.ruler.push('task_checkboxes', taskCheckboxes);
md.core.ruler.push('align_classes', alignClasses);
md.renderer.rules['task_checkbox'] = (tokens, idx) =>
  `<input type="checkbox" disabled${tokens[idx]?.meta?.['checked'] === true ? ' checked' : ''}> `;

/** Renders a task body to HTML: CommonMark without raw HTML, unsafe links dropped, `- [ ]` items as disabled checkboxes. */
export function renderMarkdown(body: string): string {
  return md.render(body);
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
