// `notify test`: one sample notification through each configured channel now (one attempt each), one line per channel; exit 1 when any failed.
import type { Options } from '../args.ts';
import { type Cli, terminalText } from '../context.ts';
import { usageError } from '../../base/errors.ts';
import { redactNotifyUrl } from '../../base/notify-files.ts';
import { checkRuntimeFolders, runtimePaths } from '../../base/paths.ts';
import { makeNotifier } from '../../manager/notify.ts';
import { hostName } from '../../manager/store.ts';
import { runningHeartbeatOptions } from '../watchdog.ts';

export async function run(given: Options, cli: Cli): Promise<number> {
  const o = withRunningChannels(given, cli);
  if (o.notify === undefined && o.notifyUrl === undefined) {
    throw usageError('`notify test` needs a channel: notify=\'<shell command>\' or notify_url=<http(s) URL> (or $TASK_MANAGER_NOTIFY / $TASK_MANAGER_NOTIFY_URL)');
  }
  // The result goes to the delivery log as well, so the dashboard shows the test; never through a linked runtime folder.
  checkRuntimeFolders(runtimePaths(o.dir, o.owner));
  const stop = cli.onStop();
  let finished: () => void = () => undefined;
  const done = new Promise<void>((resolve) => { finished = resolve; });
  const notifier = makeNotifier(
    { owner: o.owner, dir: o.dir, host: hostName(cli.env), command: o.notify, url: o.notifyUrl, env: cli.launcher.env, log: (line) => cli.note(terminalText(line)), now: () => new Date() },
    { attempts: 1, onDone: () => finished() },
  );
  notifier.notify({ kind: 'test', key: `test:${new Date().toISOString()}`, id: null });
  // Each channel has its own deadline (30 s for the command, 10 s for the URL): this ends.
  await Promise.race([done, new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }))]);
  await notifier.close(0);
  const names = [...(o.notify === undefined ? [] : ['command']), ...(o.notifyUrl === undefined ? [] : [redactNotifyUrl(o.notifyUrl)])];
  const lines = names.map((channel) => ({ channel, ...(notifier.results.get(channel) ?? { ok: false, reason: 'not answered (stopped)' }) }));
  if (o.json) cli.out(JSON.stringify({ channels: lines }));
  else for (const l of lines) cli.out(`${l.channel}: ${l.ok ? `ok (${terminalText(l.reason)})` : `failed: ${terminalText(l.reason)}`}`);
  return lines.length > 0 && lines.every((l) => l.ok) ? 0 : 1;
}

/**
 * With neither key, the channels of this owner's running heartbeat (read from its environment,
 * proven to be it: lib/supervise/recipe.ts), said on stderr so --json stays one document.
 */
function withRunningChannels(o: Options, cli: Cli): Options {
  if (o.notify !== undefined || o.notifyUrl !== undefined) return o;
  const running = runningHeartbeatOptions(o, cli);
  if (running === undefined || (running.notify === undefined && running.notifyUrl === undefined)) return o;
  cli.note("using the running heartbeat's channels");
  return { ...o, notify: running.notify, notifyUrl: running.notifyUrl };
}
