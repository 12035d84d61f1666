// since= of `history` and `/api/history`: a duration back from now (90m, 24h, 7d) or an ISO time.

/** The default: the last 24 hours. */
export const SINCE_DEFAULT = '24h';

/** What since= takes, for the one line a bad value gets. */
export const SINCE_FORMS = 'a duration back from now such as 90m, 24h or 7d, or an ISO time such as 2026-01-31T08:00:00Z';

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;

/**
 * The time since= names, or undefined when it names none: `<number><s|m|h|d|w>` back from now, or
 * an ISO date or time (a date alone is midnight UTC). A value is at most 64 characters.
 */
export function sinceTime(value: string | undefined, now: Date): Date | undefined {
  const v = (value ?? SINCE_DEFAULT).trim();
  if (v.length === 0 || v.length > 64) return undefined;
  const m = /^([0-9]+(?:\.[0-9]+)?)(s|m|h|d|w)$/.exec(v);
  if (m) {
    const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
    return Number.isFinite(ms) ? new Date(now.getTime() - ms) : undefined;
  }
  if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?$/.test(v)) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : new Date(t);
}
