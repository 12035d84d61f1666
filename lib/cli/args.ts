// The command line: actions, keys and flags declared as data, validated into one frozen Options.
import fs from 'node:fs';
import path from 'node:path';
import minimist from 'minimist';
import { usageError } from '../base/errors.ts';
import { EDIT_ACTIONS, EDIT_KEYS, type EditOptions, checkEdit, isFieldWord } from './edit-args.ts';
import { checkBranch, checkDefaultDir, checkDuration, checkInteger, checkInterval, checkOnOff, checkOwner, checkReady, checkShared } from './checks.ts';
import { isFolder } from '../base/jsonfile.ts';
import { realpathOfGone } from '../base/realpath.ts';
import { nearest } from './suggest.ts';
import { checkNotifyUrl } from '../base/notify-files.ts';

export { checkOwner } from './checks.ts';

/** The actions, in help order, with their one-line purpose. */
export const ACTIONS = {
  serve: 'ensure the heartbeat, then run the tasks server in the foreground (Ctrl-C stops the server only)',
  ensure: 'ensure the heartbeat for owner is running, then exit (for CI steps and recipes)',
  status: 'heartbeat and server state: pid, uptime, last and next tick, URL, counts, failed runs (exit 3: stopped, 4: stuck)',
  stop: 'stop what this owner runs in the background (heartbeat, detached server)',
  heartbeat: 'run the heartbeat loop in the foreground (what ensure detaches)',
  logs: 'print the tail of the heartbeat log, or with id=<task> of that task\'s run log',
  build: 'render the static dashboard to out=<dir> (no server, no heartbeat)',
  release: 'drop the claim on id=<task>, keeping it in history; refuses while its run is alive unless --force',
  retry: 'release the claim on id=<task> so the task is dispatched again at the next tick (--force stops a live run first)',
  prune: 'remove the worktrees of completed or cancelled tasks that hold no uncommitted work, and their merged branches',
  set: 'set a task\'s status and fields: set id=<task> status=in_progress [field.<key>=value …] [version=…]',
  note: 'append a dated line to a task\'s notes: note id=<task> text="…"',
  check: 'tick a plan checkbox: check id=<task> item=<number or text>',
  new: 'create a task file in the folder\'s own format: new title="…" [status=… priority=… field.<key>=value …]',
  mcp: 'a stdio MCP server for agents: list, view, update and create tasks, the next ready task, the heartbeat\'s state (docs/agents.md)',
  history: 'the runs and ticks the heartbeat recorded: history [since=24h|7d|<ISO time>] [--json]',
  notify: 'notify test: send a sample notification through notify= and notify_url=, and say what each answered',
  startup: 'start the heartbeat at boot (a systemd user unit, else an @reboot crontab line); --remove undoes it',
} as const;
export type Action = keyof typeof ACTIONS;

interface KeySpec { default: string; help: string }
/** Keys, written key=value or --key=value. */
export const KEYS = {
  owner: { default: '$TASK_MANAGER_OWNER, else the current user', help: '[A-Za-z0-9._-]{1,64}, not . or ..' },
  port: { default: '$TASK_MANAGER_PORT, else 8005', help: 'integer 1-65535; a taken default moves to the next free port, a taken port= fails' },
  host: { default: '127.0.0.1', help: 'address to bind; anything but loopback prints a warning' },
  interval: { default: '30', help: 'seconds between ticks, > 0 and <= 86400 (fractions allowed)' },
  dir: { default: 'tasks under the repository root', help: 'the tasks folder; runtime state goes to <dir>/logs/task_manager/' },
  dispatch: { default: '$TASK_MANAGER_DISPATCH', help: 'shell command run for each dispatched task; unset: no dispatch' },
  max: { default: '1', help: 'most tasks claimed and running at once, integer 1-1000' },
  ready: { default: 'ready', help: "the statuses that count as ready, comma-separated, matched as statuses are (ready='To Do' for a Backlog.md folder)" },
  escalate_after: { default: '2h', help: 'a claim older than this without reaching review is escalated: seconds, or 90m, 2h, 1d' },
  run_timeout: { default: 'none', help: 'a run older than this is ended (TERM, 5 s grace, KILL) and escalated: seconds, or 90m, 2h, 1d, or none' },
  project: { default: "the folder's config (Backlog.md config.yml project_name, .taskmd.yaml), else package.json's name, else the folder", help: 'project name in the dashboard title (<Project> Tasks)' },
  out: { default: '', help: 'build: folder to write the static dashboard to' },
  id: { default: '', help: 'release, retry, logs, set, note, check: the task, by id or file name (slug)' },
  ...EDIT_KEYS,
  worktrees: { default: 'on inside a git repository, else off', help: 'on or off: run each dispatched task in its own git worktree .worktrees/<slug> on branch task/<slug>' },
  base: { default: 'the branch checked out now', help: 'the branch new worktrees start from' },
  registry: { default: '$TASK_MANAGER_REGISTRY, else registry.json in the runtime folder', help: 'postgres://user@host:port/db: claims shared by every host of the repository (password from PGPASSWORD or ~/.pgpass)' },
  queue: { default: "the origin's URL and the folder's path in the repository", help: 'shared registry: the queue clones share; the same name on every host' },
  lease: { default: '10m', help: "shared registry: how long a silent host's claims stay untouched; >= 30 s and >= 3 intervals" },
  notify: { default: '$TASK_MANAGER_NOTIFY', help: 'shell command run for each notification: the event as JSON on stdin, TASKS_EVENT and TASK_ID in its environment' },
  notify_url: { default: '$TASK_MANAGER_NOTIFY_URL', help: 'URL each notification is POSTed to as JSON with a text field (Slack- and Discord-compatible webhooks)' },
  since: { default: '24h', help: 'history: from how long ago (90m, 24h, 7d) or from an ISO time' },
} satisfies Record<string, KeySpec>;
export type Key = keyof typeof KEYS;

interface FlagSpec { actions: readonly Action[] | 'all'; help: string }
/** Boolean flags and the actions they apply to. */
export const FLAGS = {
  json: { actions: ['serve', 'ensure', 'status', 'stop', 'heartbeat', 'build', 'release', 'retry', 'prune', 'set', 'note', 'check', 'new', 'history', 'notify', 'startup'], help: 'one JSON document on stdout, nothing else there' },
  detach: { actions: ['serve'], help: 'run the server in the background too, print its URL, exit 0' },
  heartbeat: { actions: ['serve'], help: 'serve without ensuring the heartbeat' },
  open: { actions: ['serve'], help: 'open the dashboard in the browser' },
  once: { actions: ['heartbeat'], help: 'run one tick and exit' },
  unit: { actions: ['heartbeat'], help: 'as started by the systemd unit `startup` writes: log to the heartbeat log file itself, and wait for a heartbeat holding the lock instead of exiting' },
  f: { actions: ['logs'], help: 'follow the log' },
  force: { actions: ['release', 'retry'], help: 'stop every process of a live run (found by its run marker) before releasing it' },
  remove: { actions: ['startup'], help: 'undo startup: remove the unit or the crontab line' },
  'with-server': { actions: ['startup'], help: 'start the dashboard at boot too, not only the heartbeat' },
  help: { actions: 'all', help: 'this text' },
} satisfies Record<string, FlagSpec>;
export type Flag = keyof typeof FLAGS;

/** The fully defaulted, validated options of one invocation. */
export interface Options {
  readonly action: Action;
  readonly owner: string;
  readonly port: number;
  /** True when port was given: a taken port is then an error, not a reason to move. */
  readonly portGiven: boolean;
  readonly host: string;
  readonly interval: number;
  /** Absolute path of the tasks folder. */
  readonly dir: string;
  readonly dispatch: string | undefined;
  readonly max: number;
  /** The statuses that count as ready, as the operator wrote them (default: ready). */
  readonly ready: readonly string[];
  readonly out: string | undefined;
  /** Project name for the dashboard title; undefined: derived from the repository. */
  readonly project: string | undefined;
  /** Seconds after which a claim that has not reached review is escalated. */
  readonly escalateAfter: number;
  /** Seconds after which a run is ended and escalated; undefined: no limit. */
  readonly runTimeout: number | undefined;
  readonly json: boolean;
  readonly detach: boolean;
  readonly heartbeat: boolean;
  readonly open: boolean;
  readonly once: boolean;
  readonly follow: boolean;
  readonly force: boolean;
  /** release, retry, logs: the task asked about (an id or a slug), as given. */
  readonly id: string | undefined;
  /** Worktrees per dispatched task: on, off, or undefined for "on inside a git repository". */
  readonly worktrees: 'on' | 'off' | undefined;
  /** The branch worktrees start from; undefined: the branch checked out now. */
  readonly base: string | undefined;
  /** A postgres:// URL: the shared registry; undefined: registry.json. */
  readonly registry: string | undefined;
  /** The shared registry's queue; undefined: from the repository's origin. */
  readonly queue: string | undefined;
  /** Seconds a silent host's claims stay untouched in the shared registry. */
  readonly lease: number;
  /** Keys the operator set (on the command line, or through an environment variable). */
  readonly given: readonly string[];
  /** set, note, check, new: what to change (lib/cli/edit-args.ts). */
  readonly edit: EditOptions;
  /** notify=: the shell command notifications are piped to; undefined: none. */
  readonly notify: string | undefined;
  /** notify_url=: the URL notifications are POSTed to (may hold a secret: never printed whole); undefined: none. */
  readonly notifyUrl: string | undefined;
  /** history: since=, as given (the history action reads it); undefined: the last 24 hours. */
  readonly since: string | undefined;
  /** startup --remove. */
  readonly remove: boolean;
  /** startup --with-server. */
  readonly withServer: boolean;
  /** heartbeat --unit: started by startup's systemd unit (its own log file; waits for a twin). */
  readonly unit: boolean;
}

/** What the caller knows about its surroundings; parseArgs reads nothing else. */
export interface ArgsContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly root: string;
  readonly user: string;
  /** The folder dir= names when not given; unset: <root>/tasks. */
  readonly defaultDir?: string;
}

export type Parsed = { help: true; action?: Action } | { help: false; options: Options };

const ACTION_NAMES = Object.keys(ACTIONS) as Action[];
const KEY_NAMES = Object.keys(KEYS) as Key[];
const FLAG_NAMES = Object.keys(FLAGS) as Flag[];

/** The usage text, generated from the tables above. */
export function usage(): string {
  const pad = (s: string, n: number): string => s.padEnd(n);
  const lines = [
    'usage: tasks <action> [key=value ...] [--flag ...]',
    '  via: just tasks serve owner=x | npx tasks serve owner=x (installed in another repository) | npx zx scripts/tasks-serve.ts serve owner=x | npm run tasks -- serve owner=x',
    '',
    'actions:',
    ...ACTION_NAMES.map((a) => `  ${pad(a, 10)} ${ACTIONS[a]}`),
    '',
    'keys (key=value or --key=value):',
    ...KEY_NAMES.map((k) => `  ${pad(k, 14)} ${KEYS[k].help}${KEYS[k].default ? ` (default: ${KEYS[k].default})` : ''}`),
    '',
    'flags:',
    ...FLAG_NAMES.map((f) => {
      const name = f === 'f' ? '-f' : f === 'heartbeat' ? '--no-heartbeat' : f === 'help' ? '-h, --help' : `--${f}`;
      const where = FLAGS[f].actions === 'all' ? '' : ` [${(FLAGS[f].actions as readonly Action[]).join(', ')}]`;
      return `  ${pad(name, 16)} ${FLAGS[f].help}${where}`;
    }),
    '',
    'exit codes: 0 ok, 1 runtime failure, 2 usage error (also an unknown id=), 3 status: heartbeat stopped, 4 status: heartbeat stuck',
  ];
  return lines.join('\n');
}

/** Parses argv (the words after the script) into options, or throws a usage error naming the value. */
export function parseArgs(argv: readonly string[], ctx: ArgsContext): Parsed {
  for (const word of argv) {
    if (word === '--') break;
    const m = /^--(no-)?([a-z]+)=/.exec(word);
    if (m && (FLAG_NAMES as string[]).includes(m[2] as string)) throw usageError(`flag --${m[1] ?? ''}${m[2]} takes no value, got \`${word}\`; write --${m[1] ?? ''}${m[2]} alone`);
  }
  const raw = minimist([...argv], {
    string: ['_', ...KEY_NAMES],
    boolean: FLAG_NAMES,
    alias: { h: 'help' },
    '--': true,
    default: { heartbeat: true },
  });
  const flagValues: Partial<Record<Flag, boolean>> = {};
  const keyValues: Partial<Record<Key, string>> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (name === '_' || name === '--' || name === 'h') continue;
    if ((FLAG_NAMES as string[]).includes(name)) {
      if (typeof value !== 'boolean') throw usageError(`flag --${name} takes no value, got \`${String(value)}\`; write --${name} alone`);
      flagValues[name as Flag] = value;
    } else if ((KEY_NAMES as string[]).includes(name)) {
      setKey(keyValues, name as Key, value);
    } else {
      const shown = name.length === 1 ? `-${name}` : `--${name}`;
      const near = nearest(name, [...FLAG_NAMES.filter((f) => f.length > 1).map((f) => `--${f}`), ...KEY_NAMES.map((k) => `--${k}=`)]);
      throw usageError(`unknown flag \`${shown}\`${near}; see --help for the flags`);
    }
  }
  const words = [...(raw._ as string[]), ...((raw['--'] as string[] | undefined) ?? [])];
  const [first, ...rest] = words;
  if (flagValues.help) {
    return { help: true, ...(first && isAction(first) ? { action: first } : {}) };
  }
  // No action: the usage itself is the most useful answer (`just tasks` alone is how people discover it).
  if (first === undefined) throw usageError(`no action given; say one of: ${ACTION_NAMES.join(', ')}\n\n${usage()}`);
  if (!isAction(first)) throw usageError(`unknown action \`${first}\`${nearest(first, ACTION_NAMES)}; say one of: ${ACTION_NAMES.join(', ')}`);
  const action = first;
  const fieldWords: string[] = [];
  for (const word of rest) {
    // `notify test` is the one action with a word of its own.
    if (action === 'notify' && word === 'test') continue;
    if (isFieldWord(word)) {
      fieldWords.push(word);
      continue;
    }
    const m = /^([A-Za-z_]+)=(.*)$/s.exec(word);
    if (!m && action === 'notify') throw usageError(`\`notify\` takes one word, test, got \`${word}\`${nearest(word, ['test'])}; run: notify test`);
    if (!m) throw usageError(`unexpected argument \`${word}\`; keys are written key=value (see --help)`);
    const name = m[1] as string;
    if (!(KEY_NAMES as string[]).includes(name)) throw usageError(`unknown key \`${name}\`${nearest(name, KEY_NAMES.map((k) => `${k}=`))}; keys are: ${KEY_NAMES.join(', ')}`);
    setKey(keyValues, name as Key, m[2] as string);
  }
  for (const f of FLAG_NAMES) {
    const applies = FLAGS[f].actions;
    const given = f === 'heartbeat' ? flagValues.heartbeat === false : flagValues[f] === true;
    if (given && applies !== 'all' && !(applies as readonly Action[]).includes(action)) {
      const name = f === 'f' ? '-f' : f === 'heartbeat' ? '--no-heartbeat' : `--${f}`;
      throw usageError(`flag ${name} does not apply to \`${action}\`; it is for: ${(applies as readonly Action[]).join(', ')}`);
    }
  }
  if (action === 'notify' && !rest.includes('test')) throw usageError('`notify` needs a word: notify test (sends a sample through notify= and notify_url=)');
  const edit = checkEdit(action, keyValues, fieldWords);
  return { help: false, options: Object.freeze({ ...validate(action, keyValues, flagValues, ctx), edit }) };
}

/** An unset or blank value is no value (an empty environment variable sets nothing). */
function blankIsNone(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v;
}

/** notify_url=, else $TASK_MANAGER_NOTIFY_URL; checked (http or https, one usage line) where it is used. */
function notifyUrlOf(action: Action, keys: Partial<Record<Key, string>>, env: ArgsContext['env']): string | undefined {
  const url = blankIsNone(keys.notify_url ?? env.TASK_MANAGER_NOTIFY_URL);
  if (url !== undefined && ['serve', 'ensure', 'heartbeat', 'notify', 'startup'].includes(action)) checkNotifyUrl(url, keys.notify_url !== undefined ? 'notify_url' : 'TASK_MANAGER_NOTIFY_URL');
  return url;
}

function isAction(word: string): word is Action {
  return (ACTION_NAMES as string[]).includes(word);
}

function setKey(into: Partial<Record<Key, string>>, key: Key, value: unknown): void {
  if (Array.isArray(value) || into[key] !== undefined) throw usageError(`key \`${key}\` given more than once; give it once`);
  into[key] = String(value);
}


function validate(action: Action, keys: Partial<Record<Key, string>>, flags: Partial<Record<Flag, boolean>>, ctx: ArgsContext): Omit<Options, 'edit'> {
  const ownerSource = keys.owner ?? ctx.env.TASK_MANAGER_OWNER ?? ctx.user;
  const owner = checkOwner(ownerSource, keys.owner !== undefined ? 'owner' : ctx.env.TASK_MANAGER_OWNER !== undefined ? 'TASK_MANAGER_OWNER' : 'owner (from the current user)');
  const envPort = ctx.env.TASK_MANAGER_PORT;
  const port = keys.port !== undefined ? checkInteger('port', keys.port, 1, 65535)
    : envPort !== undefined && envPort !== '' && action === 'serve' ? checkInteger('TASK_MANAGER_PORT', envPort, 1, 65535) : 8005;
  const host = keys.host ?? '127.0.0.1';
  if (host.trim() === '' || /\s/.test(host)) throw usageError(`\`host\` must be an address such as 127.0.0.1, got \`${host}\``);
  const interval = keys.interval === undefined ? 30 : checkInterval(keys.interval);
  const max = keys.max === undefined ? 1 : checkInteger('max', keys.max, 1, 1000);
  const ready = keys.ready === undefined ? ['ready'] : checkReady(keys.ready);
  const dirWord = keys.dir ?? ctx.defaultDir ?? path.join(ctx.root, 'tasks');
  if (dirWord === '') throw usageError('`dir` must name a folder, got an empty value; pass dir=<tasks folder>');
  const resolved = path.resolve(ctx.cwd, dirWord);
  // `stop` takes a folder that is gone: its heartbeat may outlive it (stop finds it by its command line).
  const gone = action === 'stop' && !isFolder(resolved) && !fs.existsSync(resolved);
  if (!isFolder(resolved) && !gone) {
    const where = resolved === dirWord ? '' : ` (resolved to ${resolved})`;
    throw usageError(`\`dir\` must be an existing folder, got \`${dirWord}\`${where}; create it or pass dir=<tasks folder>`);
  }
  // The real path: a symlinked or ../ spelling of one folder must name the same heartbeat.
  const dir = gone ? realpathOfGone(resolved) : fs.realpathSync(resolved);
  if (keys.dir === undefined && !gone) checkDefaultDir(ctx.root, resolved, dir);
  const dispatchWord = keys.dispatch ?? ctx.env.TASK_MANAGER_DISPATCH;
  const dispatch = dispatchWord === undefined || dispatchWord.trim() === '' ? undefined : dispatchWord;
  let out: string | undefined;
  if (keys.out !== undefined) {
    if (keys.out === '') throw usageError('`out` must name a folder, got an empty value; pass out=<folder>');
    out = path.resolve(ctx.cwd, keys.out);
  }
  const escalateAfter = keys.escalate_after === undefined ? 7200 : checkDuration('escalate_after', keys.escalate_after);
  const runTimeout = keys.run_timeout === undefined || keys.run_timeout === 'none' ? undefined : checkDuration('run_timeout', keys.run_timeout);
  if (action === 'build' && out === undefined) throw usageError('`build` needs out=<folder> to write the dashboard to');
  // An empty id= is a slip (an unset shell variable), never "no task": `logs id=` must not show the heartbeat log instead.
  if (keys.id !== undefined && keys.id.trim() === '') throw usageError('`id` must name a task, got an empty value; pass id=<task> (see the claims with: just tasks status)');
  const id = keys.id === undefined ? undefined : keys.id.trim();
  if ((action === 'release' || action === 'retry' || (EDIT_ACTIONS as readonly string[]).includes(action) && action !== 'new') && id === undefined) throw usageError(`\`${action}\` needs id=<task>; see the claims with: just tasks status`);
  const worktrees = keys.worktrees === undefined ? undefined : checkOnOff('worktrees', keys.worktrees);
  const base = keys.base === undefined ? undefined : checkBranch(keys.base);
  const { registry, queue, lease } = checkShared(keys, ctx.env, interval);
  return {
    action, owner, port, portGiven: keys.port !== undefined, host, interval, dir, dispatch, max, ready, out, escalateAfter, runTimeout, project: keys.project === undefined || keys.project.trim() === '' ? undefined : keys.project.trim(),
    json: flags.json === true,
    detach: flags.detach === true,
    heartbeat: flags.heartbeat !== false,
    open: flags.open === true,
    once: flags.once === true,
    follow: flags.f === true,
    force: flags.force === true,
    remove: flags.remove === true,
    withServer: flags['with-server'] === true,
    unit: flags.unit === true,
    notify: blankIsNone(keys.notify ?? ctx.env.TASK_MANAGER_NOTIFY),
    notifyUrl: notifyUrlOf(action, keys, ctx.env),
    since: keys.since,
    id,
    worktrees,
    base,
    registry, queue, lease,
    given: [...Object.keys(keys), ...(keys.dispatch === undefined && ctx.env.TASK_MANAGER_DISPATCH !== undefined ? ['dispatch'] : [])],
  };
}
