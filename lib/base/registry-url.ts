// A shared registry's URL as it may be shown, and the one line a database that cannot be reached becomes (no pg here: cheap to load).
import { TasksError } from './errors.ts';

/** A URL as it may be shown: scheme, user, host, port and database; a password as ***, parameters left out. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    // Parameters can carry a password too (?password=…, sslkey…): none is shown.
    u.search = '';
    u.hash = '';
    return u.toString();
  } catch {
    return `${url.slice(0, url.indexOf(':') + 1) || 'postgres:'}//(a URL that does not parse)`;
  }
}

/** Host and port a URL names, for "check that PostgreSQL runs on …" (defaults as libpq's). */
export function hostPort(url: string): { host: string; port: string } {
  try {
    const u = new URL(url);
    return { host: u.hostname || u.searchParams.get('host') || process.env.PGHOST || 'localhost', port: u.port || process.env.PGPORT || '5432' };
  } catch {
    return { host: 'localhost', port: '5432' };
  }
}

/** The database cannot be reached (refused, timed out, gone mid-statement): ticks go on without dispatching. */
export class RegistryUnreachable extends TasksError {}

/** The one line a connection failure becomes: the place, what failed, what to check. Never the password. */
export function unreachable(url: string, err: unknown): TasksError {
  const { host, port } = hostPort(url);
  const why = err instanceof Error ? err.message : String(err);
  return new RegistryUnreachable(`registry ${redactUrl(url)} is unreachable (${why.split('\n')[0]}); check that PostgreSQL runs on ${host} port ${port} and accepts this user (pg_isready -h ${host} -p ${port})`);
}
