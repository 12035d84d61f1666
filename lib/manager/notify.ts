// Notifications (issue 20): scaffold, filled in by the notifications work.
import type { TickObserver } from './tick.ts';

export interface NotifyOptions {
  readonly owner: string;
  readonly dir: string;
  readonly host: string;
  /** notify=: a shell command; notify_url=: a URL. Neither: no observer. */
  readonly command: string | undefined;
  readonly url: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: (line: string) => void;
  readonly now: () => Date;
}

/** The observer that sends notifications; undefined when neither notify= nor notify_url= is set (and while not built). */
export function notifyObserver(_o: NotifyOptions): TickObserver | undefined {
  return undefined;
}
