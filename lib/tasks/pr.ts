// Pull-request links: a task's `pr:` (a number or a URL) resolved against the repository's git remote.

/** Where pull requests live: the web host and the owner/name path of the repository. */
export interface Remote { readonly host: string; readonly repo: string }

/** A task's pull request: its number when known, and a web link when one can be made. */
export interface PrLink { readonly number: number | null; readonly url: string | null }

/**
 * Reads a git remote URL in any of its usual spellings (https, ssh://, scp-like git@host:owner/name,
 * with or without .git) as host and owner/name; undefined for anything else (a local path).
 */
export function parseRemote(url: string): Remote | undefined {
  const text = url.trim();
  const scp = /^[\w.-]+@([\w.-]+):([^/][^\s]*?)(?:\.git)?\/?$/.exec(text);
  if (scp && !text.includes('://')) return { host: scp[1] as string, repo: scp[2] as string };
  const full = /^(?:https?|ssh|git):\/\/(?:[^@/]+@)?([\w.-]+)(?::\d+)?\/([^\s]+?)(?:\.git)?\/?$/.exec(text);
  if (full) return { host: full[1] as string, repo: full[2] as string };
  return undefined;
}

/**
 * Resolves `pr:` as written: a URL is kept (only http and https), `123` or `#123` becomes a link on
 * the remote's host (`https://<host>/<owner>/<name>/pull/123`), and anything else has no link.
 */
export function prLink(pr: string | null | undefined, remote: Remote | undefined): PrLink | undefined {
  if (pr === null || pr === undefined) return undefined;
  const text = pr.trim();
  if (text === '') return undefined;
  const num = /^#?([1-9][0-9]{0,9})$/.exec(text);
  if (num) {
    const n = Number(num[1]);
    return { number: n, url: remote ? `https://${remote.host}/${remote.repo}/pull/${n}` : null };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch (err) {
    if (err instanceof TypeError) return { number: null, url: null };
    throw err;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { number: null, url: null };
  const n = /\/(?:pull|pulls|merge_requests)\/([1-9][0-9]{0,9})(?:[/?#]|$)/.exec(url.pathname);
  return { number: n ? Number(n[1]) : null, url: url.href };
}
