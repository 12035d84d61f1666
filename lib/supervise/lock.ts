// Kernel-held locks: abstract Unix sockets, freed when the holder dies.
import crypto from 'node:crypto';
import net from 'node:net';
import { TasksError, isErrno } from '../base/errors.ts';
import { sleep } from './proc.ts';

/** A held lock; release() gives it up. */
export interface Held { release(): void }

/**
 * Binds an abstract Unix socket: the bind is atomic and the kernel releases it when the holder
 * dies, so a lock of this kind never goes stale and never needs breaking.
 */
export function bindAddress(address: string, onConnection: (socket: net.Socket) => void = (s) => s.destroy()): Promise<net.Server | 'taken'> {
  return new Promise((resolve, reject) => {
    const server = net.createServer(onConnection);
    server.once('error', (err) => (isErrno(err, 'EADDRINUSE') ? resolve('taken') : reject(err)));
    server.listen({ path: address }, () => resolve(server));
  });
}

/**
 * The kernel-held lock of one owner's heartbeat in one folder: an abstract Unix socket. Binding
 * is atomic and the kernel releases it when the process dies, so concurrent starts end with one
 * heartbeat and a crashed starter never locks the owner out. Its holder is that heartbeat.
 */
export function heartbeatLockAddress(owner: string, dir: string): string {
  const hash = crypto.createHash('sha256').update(dir).digest('hex').slice(0, 16);
  return `\0tasks-heartbeat-${hash}-${owner}`;
}

/** The abstract socket address that locks one named resource (e.g. a registry file's path). */
export function lockAddress(name: string): string {
  return `\0tasks-lock-${crypto.createHash('sha256').update(name).digest('hex').slice(0, 32)}`;
}

/** Takes the lock named `name`, waiting up to timeoutMs for its holder to release it (or die). */
export async function acquireLock(name: string, timeoutMs = 10_000): Promise<Held> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const bound = await bindAddress(lockAddress(name));
    if (bound !== 'taken') return { release: () => bound.close() };
    if (Date.now() > deadline) throw new TasksError(`could not lock ${name} within ${timeoutMs / 1000} s; another tasks process holds it`);
    await sleep(2 + Math.random() * 8);
  }
}
