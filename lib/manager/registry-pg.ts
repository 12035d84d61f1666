// The shared registry in PostgreSQL: claims, holds and history as rows of one queue, so heartbeats on many hosts never take one task twice.
import pg from 'pg';
import { type Claim, type Hold, type Registry, type RegistryHooks, type Released, claimProblem, emptyRegistry } from './registry.ts';
import { TasksError } from '../base/errors.ts';
import { redactUrl, unreachable } from '../base/registry-url.ts';
import { migrate } from './registry-pg-schema.ts';

/** The fields a claim carries only as read from the database (columns, not part of the claim's document). */
const ROW_FIELDS = ['host', 'renewedAt', 'leaseUntil', 'leaseExpired', 'silent'] as const;
const HISTORY_MAX = 200;

export interface PgStoreOptions {
  readonly url: string;
  /** The queue: every clone of one repository's tasks folder shares it (see queueKey). */
  readonly queue: string;
  /** This host's name in the rows it writes. */
  readonly host: string;
  /** A heartbeat renews its owner's leases at each update; other callers (the CLI) renew nothing. */
  readonly renew?: { readonly owner: string; readonly leaseS: number; readonly intervalS: number } | undefined;
}

/** The claims, holds and history of one queue in PostgreSQL; every write is one transaction under the queue's advisory lock. */
export class PgStore {
  readonly kind = 'postgres';
  readonly where: string;
  readonly queue: string;
  /** Told after each renewal, with Date.now() taken before its statement (the fence counts from it). */
  onRenewed: ((startedMs: number) => void) | undefined;
  private readonly o: PgStoreOptions;
  private readonly pool: pg.Pool;
  private migrated: Promise<void> | undefined;

  constructor(o: PgStoreOptions) {
    this.o = o;
    this.where = redactUrl(o.url);
    this.queue = o.queue;
    // A statement that hangs (a lock, a partition) fails the tick instead of wedging it, well
    // within the lease: the snapshot says "unreachable" before another host may take over.
    const waitMs = Math.round(Math.min(15_000, Math.max(1000, (o.renew?.leaseS ?? 60) * 1000 / 5)));
    this.pool = newPool(o.url, 2, waitMs, 'tasks');
  }

  /** Connects and brings the schema up to date (once per store); a failure is one line naming host and port. */
  async ready(): Promise<void> {
    this.migrated ??= this.withClient((c) => migrate(c)).catch((err: unknown) => {
      this.migrated = undefined;
      throw err;
    });
    return this.migrated;
  }

  /** The queue's registry for readers; never writes. */
  async peek(): Promise<Registry> {
    await this.ready();
    return this.withClient((c) => load(c, this.o.queue));
  }

  /**
   * Read-modify-write of the queue under its advisory lock (one writer per queue on every host):
   * fn changes the registry; the rows that changed are written, a new claim by an INSERT that
   * only one host can make. A heartbeat's update renews its leases, timed by the database's clock.
   */
  async update<T>(fn: (reg: Registry) => T, _hooks?: Pick<RegistryHooks, 'log' | 'now'>): Promise<T> {
    await this.ready();
    return this.withClient(async (c) => {
      await this.renew(c);
      await c.query('BEGIN');
      try {
        await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 7))', [`tasks:${this.o.queue}`]);
        const reg = await load(c, this.o.queue);
        const before = structuredClone(reg);
        // No review hook: a row goes only by release or takeover, so a missing claim is never put back.
        const result = fn(reg);
        await this.write(c, before, reg);
        await c.query('COMMIT');
        return result;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }

  private async withClient<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return withPoolClient(this.pool, this.o.url, fn);
  }

  private async write(c: pg.PoolClient, before: Registry, after: Registry): Promise<void> {
    const q = this.o.queue;
    for (const id of Object.keys(before.claims)) {
      if (!after.claims[id]) await c.query('DELETE FROM tasks_claims WHERE queue = $1 AND task_id = $2', [q, id]);
    }
    for (const [id, claim] of Object.entries(after.claims)) {
      const doc = document(claim);
      let old = before.claims[id];
      const host = claim.host ?? this.o.host;
      const lease = this.o.renew?.leaseS ?? 600;
      const interval = this.o.renew?.intervalS ?? 30;
      // Another claim in the old one's place (taken over, or a live run's claim put back) is a new row
      // with its own lease: an update would keep the old holder's expired lease, and the next host's
      // tick would take the task over a second time while its new run goes.
      if (old !== undefined && (old.claimedAt !== claim.claimedAt || (old.runId ?? null) !== (claim.runId ?? null) || (old.host ?? this.o.host) !== host)) {
        await c.query('DELETE FROM tasks_claims WHERE queue = $1 AND task_id = $2', [q, id]);
        old = undefined;
      }
      if (old === undefined) {
        // The one statement that makes a claim: a second host's INSERT of the same task finds the row and takes nothing.
        const taken = await c.query(
          `INSERT INTO tasks_claims (queue, task_id, host, owner, pid, run_id, claimed_at, started_at, claim, renewed_at, lease_until, interval_s)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now(), now() + make_interval(secs => $10), $11) ON CONFLICT DO NOTHING RETURNING task_id`,
          [q, id, host, claim.claimedBy, claim.pid, claim.runId ?? null, claim.claimedAt, claim.startedAt, doc, lease, interval]);
        if (taken.rowCount !== 1) throw new TasksError(`the claim on ${JSON.stringify(id)} was taken by another host first; nothing was written`);
      } else if (JSON.stringify(document(old)) !== JSON.stringify(doc)) {
        await c.query('UPDATE tasks_claims SET claim = $3, pid = $4, run_id = $5, started_at = $6, owner = $7 WHERE queue = $1 AND task_id = $2',
          [q, id, doc, claim.pid, claim.runId ?? null, claim.startedAt, claim.claimedBy]);
      }
    }
    for (const id of Object.keys(before.holds)) if (!after.holds[id]) await c.query('DELETE FROM tasks_holds WHERE queue = $1 AND task_id = $2', [q, id]);
    for (const [id, h] of Object.entries(after.holds)) {
      const old = before.holds[id];
      if (!old || old.since !== h.since || old.by !== h.by) {
        await c.query('INSERT INTO tasks_holds (queue, task_id, since, held_by) VALUES ($1, $2, $3, $4) ON CONFLICT (queue, task_id) DO UPDATE SET since = $3, held_by = $4', [q, id, h.since, h.by]);
      }
    }
    // release() appends to the history: what is past the old end is new.
    const added = after.history.slice(before.history.length);
    for (const r of added) await c.query('INSERT INTO tasks_history (queue, task_id, released) VALUES ($1, $2, $3)', [q, r.id, document(r)]);
    if (added.length) {
      await c.query(`DELETE FROM tasks_history WHERE queue = $1 AND seq < (SELECT min(seq) FROM (SELECT seq FROM tasks_history WHERE queue = $1 ORDER BY seq DESC LIMIT ${HISTORY_MAX}) kept)`, [q]);
    }
  }

  /**
   * A heartbeat's leases, renewed in a statement of their own before the update's transaction (a
   * tick whose writes fail for any other reason still keeps its runs' leases); onRenewed hears the
   * time taken on this host before the statement, never later than the database's now().
   */
  private async renew(c: pg.PoolClient): Promise<void> {
    const r = this.o.renew;
    if (!r) return;
    const started = Date.now();
    await c.query('UPDATE tasks_claims SET renewed_at = now(), lease_until = now() + make_interval(secs => $4), interval_s = $5 WHERE queue = $1 AND host = $2 AND owner = $3',
      [this.o.queue, this.o.host, r.owner, r.leaseS, r.intervalS]);
    this.onRenewed?.(started);
  }
}

/** A pool of a few connections, every wait and statement bounded by waitMs (history-pg.ts has its own). */
export function newPool(url: string, max: number, waitMs: number, name: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url, max, connectionTimeoutMillis: waitMs, idleTimeoutMillis: 10_000,
    statement_timeout: waitMs, query_timeout: waitMs, application_name: name,
  });
  // A connection that breaks (the server restarted, the network cut), idle or checked out, must
  // not end the process: the statement on it fails, and the next update connects again.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/**
 * fn with a client of the pool: a pool that cannot connect, or a client that breaks (anything but
 * an answer of the server), is one line naming the database (unreachable); a broken client is
 * dropped from the pool, a good one given back.
 */
export async function withPoolClient<T>(pool: pg.Pool, url: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw unreachable(url, err);
  }
  let broken = false;
  try {
    return await fn(client);
  } catch (err) {
    broken = !(err instanceof TasksError) && !isSqlError(err);
    throw broken ? unreachable(url, err) : err;
  } finally {
    client.release(broken);
  }
}

/** A claim as its row's document: the row-only fields left out. */
function document(c: Claim): Claim {
  const out = { ...c } as Record<string, unknown>;
  for (const f of ROW_FIELDS) delete out[f];
  return out as unknown as Claim;
}

/**
 * An error the server answered (a constraint, a syntax error): the connection is still good. A
 * connection exception (08…), no resources for a connection (53…), a shutdown (57P…) or a
 * statement cut off by its timeout (57014)
 * is the database being away, not an answer.
 */
export function isSqlError(err: unknown): boolean {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !/^(08|53|57P)/.test(code) && code !== '57014';
}

interface ClaimRow { task_id: string; host: string; claim: Claim; renewed_at: Date; lease_until: Date; expired: boolean; silent: boolean }

/** The queue's rows as a registry; a row whose document is not a claim is left out (a later version's, or damaged by hand). */
async function load(c: pg.PoolClient, queue: string): Promise<Registry> {
  const reg = emptyRegistry();
  const claims = await c.query<ClaimRow>(
    `SELECT task_id, host, claim, renewed_at, lease_until, now() > lease_until AS expired,
            now() - renewed_at > make_interval(secs => 3 * interval_s) AS silent
     FROM tasks_claims WHERE queue = $1 ORDER BY claimed_at, task_id`, [queue]);
  for (const row of claims.rows) {
    const problem = claimProblem(row.claim, row.task_id);
    if (problem !== undefined) {
      // A row this build cannot read (a newer build's, or edited by hand) still holds its task: held, never free.
      reg.holds[row.task_id] = { since: row.renewed_at.toISOString(), by: `an unreadable claim row of host ${row.host} (${problem})` };
      continue;
    }
    reg.claims[row.task_id] = { ...row.claim, host: row.host, renewedAt: row.renewed_at.toISOString(), leaseUntil: row.lease_until.toISOString(), leaseExpired: row.expired, silent: row.silent };
  }
  const holds = await c.query<{ task_id: string; since: string; held_by: string }>('SELECT task_id, since, held_by FROM tasks_holds WHERE queue = $1', [queue]);
  for (const h of holds.rows) reg.holds[h.task_id] = { since: h.since, by: h.held_by } satisfies Hold;
  const history = await c.query<{ released: Released }>(`SELECT released FROM tasks_history WHERE queue = $1 ORDER BY seq DESC LIMIT ${HISTORY_MAX}`, [queue]);
  reg.history = history.rows.map((r) => r.released).reverse();
  return reg;
}
