// Ages on the page ("12 s ago") and the heartbeat's staleness, recomputed from data attributes.
import { byId } from './dom.ts';
import { relativeTime } from './time.ts';

/** Rewrites every `<time data-rel>` relative to now, and flags the health box when the last tick is over 3 intervals old. */
export function refreshAges(): void {
  const now = Date.now();
  for (const el of document.querySelectorAll<HTMLTimeElement>('time[data-rel]')) {
    const at = Date.parse(el.dateTime);
    if (!Number.isNaN(at)) el.textContent = relativeTime(at - now);
  }
  const health = byId('health', HTMLElement);
  if (health === null) return;
  const at = Date.parse(health.dataset.tickAt ?? '');
  const interval = Number(health.dataset.interval);
  const stale = !Number.isNaN(at) && interval > 0 && now - at > 3 * interval * 1000;
  health.classList.toggle('warn', stale || health.dataset.running !== '1');
  const note = health.querySelector<HTMLElement>('.stale');
  if (note !== null) note.hidden = !stale;
}
