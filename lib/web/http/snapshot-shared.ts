// What the snapshot says of a shared registry, for /api/health and the run-log routes: its state, and the claims other hosts hold.
import { fieldOrNothing } from '../../base/json-fields.ts';
import type { SnapshotRegistry } from '../../manager/tick.ts';

/** Where another host's run writes its log (on that host). */
export interface RemoteClaim { readonly host: string; readonly log: string | null }

export interface SharedSnapshot {
  /** The shared registry as the heartbeat last told it; null: registry.json, an older heartbeat, or no snapshot. */
  readonly registry: SnapshotRegistry | null;
  /** Claims held by hosts other than this one, by task id. */
  readonly remote: ReadonlyMap<string, RemoteClaim>;
}

const NONE: SharedSnapshot = { registry: null, remote: new Map() };

/** The snapshot's shared-registry facts, parsed again only when its signature changes (a new tick). */
export class SharedFacts {
  private sig: string | undefined;
  private value: SharedSnapshot = NONE;

  /** hostName: this host's name in the shared registry; undefined: the server shows registry.json. */
  constructor(private readonly hostName: string | undefined) {}

  /** `fields`: the snapshot's top-level fields (json-fields.ts), undefined when it is not one whole object. */
  of(snap: { readonly sig: string; readonly fields: () => ReadonlyMap<string, Buffer> | undefined } | undefined): SharedSnapshot {
    if (snap === undefined) return NONE;
    if (snap.sig !== this.sig) {
      this.value = parse(snap.fields(), this.hostName);
      this.sig = snap.sig;
    }
    return this.value;
  }
}

/** Only `registry` and (with a shared registry) `claims` are parsed: the snapshot's bulk, `ci` and `escalations`, is not read here. */
function parse(fields: ReadonlyMap<string, Buffer> | undefined, hostName: string | undefined): SharedSnapshot {
  // A torn or foreign snapshot says nothing; the heartbeat writes a whole one next tick.
  if (fields === undefined) return NONE;
  // Each field on its own: a bad `claims` must not hide an unreachable database from /api/health.
  const r = fieldOrNothing(fields, 'registry');
  const claims = hostName === undefined ? undefined : fieldOrNothing(fields, 'claims');
  const registry = typeof r === 'object' && r !== null && (r as SnapshotRegistry).kind === 'postgres' ? r as SnapshotRegistry : null;
  const remote = new Map<string, RemoteClaim>();
  if (hostName !== undefined && Array.isArray(claims)) {
    for (const c of claims as { id?: unknown; host?: unknown; log?: unknown }[]) {
      if (typeof c?.id === 'string' && typeof c.host === 'string' && c.host !== hostName) remote.set(c.id, { host: c.host, log: typeof c.log === 'string' ? c.log : null });
    }
  }
  return { registry, remote };
}
