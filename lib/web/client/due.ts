// Due dates: the day a date as written names, today in local time, and what is overdue; one rule for the server's pages and the client.

/** The day a date as written starts with (`2026-03-22`, `2026-3-22 12:34`, `2026-03-22T…`), as `YYYY-MM-DD`; null when it starts with none. */
export function dueDay(text: string | null | undefined): string | null {
  const m = text === null || text === undefined ? null : /^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)/.exec(text);
  return m === null ? null : `${m[1]}-${(m[2] as string).padStart(2, '0')}-${(m[3] as string).padStart(2, '0')}`;
}

/** A day as `YYYY-MM-DD` in local time: what due days are compared with. */
export function localDay(now: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** Overdue: `due` names a day before `today` (localDay), and the task is neither completed nor cancelled; a due that is not a date never is. */
export function isOverdue(t: { readonly due?: string | null | undefined; readonly status: string }, today: string): boolean {
  const day = dueDay(t.due);
  return day !== null && day < today && t.status !== 'completed' && t.status !== 'cancelled';
}
