// The text `startup` installs: systemd user units, their environment file, and the @reboot crontab line, each quoted for the reader that parses it.
import crypto from 'node:crypto';
import { TasksError } from '../base/errors.ts';

/** The marker that ends our crontab line: `# tasks-startup <name>`; no other line of the crontab is ours. */
export const CRON_MARKER = '# tasks-startup';

/** `tasks-<owner>-<10 hex of the folder>`: one name per owner and tasks folder, safe in a unit name and a crontab comment. */
export function startupName(owner: string, dir: string): string {
  return `tasks-${owner}-${crypto.createHash('sha256').update(dir).digest('hex').slice(0, 10)}`;
}

/**
 * One word of a systemd command line (ExecStart=), read back exactly: double quotes, C escapes
 * for the backslash, the quote and control characters, `%%` for a specifier's percent and `$$`
 * for a variable's dollar (systemd expands both inside quotes too).
 */
export function systemdWord(text: string): string {
  const body = [...text].map((c) => {
    if (c === '\\') return '\\\\';
    if (c === '"') return '\\"';
    if (c === '%') return '%%';
    if (c === '$') return '$$';
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    const code = c.codePointAt(0) ?? 0;
    if (code < 0x20 || code === 0x7f) return `\\x${code.toString(16).padStart(2, '0')}`;
    return c;
  }).join('');
  return `"${body}"`;
}

/** The words of an ExecStart= line as systemdWord wrote them (for saying what a replaced unit changed). */
export function systemdWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
    words.push((m[1] ?? '').replace(/\\x([0-9a-f]{2})|\\(.)|%%|\$\$/g, (all, hex: string | undefined, esc: string | undefined) => {
      if (hex !== undefined) return String.fromCharCode(parseInt(hex, 16));
      if (esc !== undefined) return esc === 'n' ? '\n' : esc === 't' ? '\t' : esc;
      return all[0] as string;
    }));
  }
  return words;
}

/** A path on a unit line that takes one path (WorkingDirectory=, EnvironmentFile=): only `%` is special there. */
function unitPath(p: string, what: string): string {
  if (/[\x00-\x1f\x7f]/.test(p)) throw new TasksError(`startup: ${what} ${JSON.stringify(p)} holds a control character, which a unit file cannot carry; use a folder without one`);
  return p.replace(/%/g, '%%');
}

/** What one unit runs. */
export interface UnitSpec {
  readonly description: string;
  /** The command: absolute node, its options, the absolute script, the action's words. */
  readonly exec: readonly string[];
  readonly workingDir: string;
  readonly envFile: string;
  /** The heartbeat's unit, for the server's: started with it, ordered after it. */
  readonly after?: string;
  /**
   * `process` for the heartbeat: a run outlives its heartbeat and is adopted by the next one
   * (docs/operations.md), so systemd restarting a crashed heartbeat must not kill its runs.
   */
  readonly killMode?: 'process';
}

/** A systemd user unit: Restart=on-failure, started with the user's manager (default.target). */
export function unitText(u: UnitSpec): string {
  return [
    '# Written by `tasks startup`; `tasks startup --remove` removes it. Edit the settings with `tasks startup`, not here.',
    '[Unit]',
    `Description=${u.description.replace(/%/g, '%%').replace(/[\x00-\x1f\x7f]/g, '?')}`,
    ...(u.after ? [`Wants=${u.after}`, `After=${u.after}`] : []),
    '',
    '[Service]',
    'Type=simple',
    `WorkingDirectory=${unitPath(u.workingDir, 'the folder')}`,
    `EnvironmentFile=${unitPath(u.envFile, 'the environment file')}`,
    `ExecStart=${u.exec.map(systemdWord).join(' ')}`,
    'Restart=on-failure',
    'RestartSec=5',
    ...(u.killMode ? [`KillMode=${u.killMode}`] : []),
    '',
    '[Install]',
    'WantedBy=default.target',
    '',
  ].join('\n');
}

/** The words of a unit text's ExecStart= line. */
export function unitExec(text: string): string[] {
  const line = text.split('\n').find((l) => l.startsWith('ExecStart='));
  return line === undefined ? [] : systemdWords(line.slice('ExecStart='.length));
}

/**
 * The environment file: the variables that must not be in a command line (anyone on the machine
 * reads those). `systemd` for EnvironmentFile= (double quotes, `\` before `"`, `\`, `` ` `` and
 * `$`), `shell` for `. file` in the crontab line (single quotes). A line break has no place in
 * a URL or a PATH and would end the assignment: refused.
 */
export function envFileText(vars: Readonly<Record<string, string>>, syntax: 'systemd' | 'shell'): string {
  const lines = ['# Written by `tasks startup` (mode 0600: it may hold a password or a webhook secret).'];
  for (const [k, v] of Object.entries(vars)) {
    if (/[\r\n\0]/.test(v)) throw new TasksError(`startup: ${k} holds a line break, which an environment file cannot carry; set it without one`);
    lines.push(syntax === 'systemd' ? `${k}="${v.replace(/[\\"`$]/g, (c) => `\\${c}`)}"` : `${k}='${v.replace(/'/g, `'\\''`)}'`);
  }
  return `${lines.join('\n')}\n`;
}

/** The variables an environment file we wrote sets (either syntax), to say which of them changed. */
export function envFileVars(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(?:"((?:[^"\\]|\\.)*)"|'(.*)')$/.exec(line);
    if (!m) continue;
    out[m[1] as string] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '').replace(/'\\''/g, "'");
  }
  return out;
}

/**
 * One word of the crontab line: single-quoted for sh, and every `%` as `'\%'` (cron turns an
 * unescaped `%` into a line break and feeds the rest to stdin; `\%` is one `%` only when the
 * character before it is not a backslash, here always a quote).
 */
export function cronWord(text: string): string {
  if (/[\r\n\0]/.test(text)) throw new TasksError(`startup: ${JSON.stringify(text.slice(0, 60))} holds a line break, which a crontab line cannot carry; use a value without one`);
  return `'${text.replace(/'/g, `'\\''`).replace(/%/g, `'\\%'`)}'`;
}

/** The words of a crontab line's command as cronWord wrote them: cron's `\%` first, then sh's quotes. */
export function cronWords(command: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  const text = command.replace(/\\%/g, '%');
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      word = (word ?? '') + text.slice(i + 1, end === -1 ? text.length : end);
      i = end === -1 ? text.length : end;
    } else if (c === '\\') {
      word = (word ?? '') + (text[i + 1] ?? '');
      i++;
    } else if (c === ' ') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/**
 * The @reboot line: into the folder, the environment file exported, then the command (its
 * ordinary output dropped; a failure's stderr reaches cron's mail), ending with our marker.
 */
export function cronLine(name: string, o: { cwd: string; envFile: string; exec: readonly string[] }): string {
  return `@reboot cd ${cronWord(o.cwd)} && set -a && . ${cronWord(o.envFile)} && set +a && exec ${o.exec.map(cronWord).join(' ')} >/dev/null ${CRON_MARKER} ${name}`;
}

/** The command words of our crontab line (after `exec`, before the redirection). */
export function cronExec(line: string): string[] {
  const at = line.indexOf(' && exec ');
  const end = line.lastIndexOf(' >/dev/null ');
  return at === -1 || end < at ? [] : cronWords(line.slice(at + ' && exec '.length, end));
}

/** Whether a crontab line is ours for this name (the marker is the line's end). */
function isOurs(line: string, name: string): boolean {
  return line.endsWith(` ${CRON_MARKER} ${name}`);
}

/**
 * The crontab with our line set (or removed, line undefined): every other line kept byte for byte,
 * ours replaced where it was (a second copy dropped) or appended. `found`: our line as it was.
 */
export function mergeCrontab(current: string, name: string, line: string | undefined): { text: string; found: string | undefined } {
  const lines = current === '' ? [] : current.split('\n');
  // The empty text after the final newline is no line (a crontab without one gets one: cron needs it).
  if (lines[lines.length - 1] === '') lines.pop();
  let found: string | undefined;
  const out: string[] = [];
  for (const l of lines) {
    if (!isOurs(l, name)) out.push(l);
    else if (found === undefined) {
      found = l;
      if (line !== undefined) out.push(line);
    }
  }
  if (found === undefined && line !== undefined) out.push(line);
  return { text: out.length === 0 ? '' : `${out.join('\n')}\n`, found };
}

/** What differs between two command lines, as `key=new (was old)` words; the secrets are never in them. */
export function commandChanges(before: readonly string[], after: readonly string[]): string[] {
  const split = (words: readonly string[]): { program: string; keys: Map<string, string> } => {
    const keys = new Map<string, string>();
    const program: string[] = [];
    for (const w of words) {
      const m = /^([a-z_]+)=(.*)$/s.exec(w);
      if (m) keys.set(m[1] as string, m[2] as string);
      else if (w.startsWith('--') && !w.startsWith('--import') && !w.startsWith('--max-')) keys.set(w, w);
      else program.push(w);
    }
    return { program: program.join(' '), keys };
  };
  const a = split(before);
  const b = split(after);
  const changes = a.program === b.program ? [] : [`${b.program} (was ${a.program})`];
  for (const k of new Set([...a.keys.keys(), ...b.keys.keys()])) {
    const was = a.keys.get(k);
    const now = b.keys.get(k);
    if (was === now) continue;
    if (k.startsWith('--')) changes.push(now === undefined ? `without ${k}` : k);
    else changes.push(`${k}=${now ?? '(none)'} (was ${was ?? '(none)'})`);
  }
  return changes;
}
