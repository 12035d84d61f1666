// Relative times ("12 s ago", "in 3 min"): one wording for the server's pages and the client's refresh.

/** A time difference in words: seconds below 90 s, minutes below 90 min, hours below 2 days, then days. */
export function relativeTime(deltaMs: number): string {
  const s = Math.round(Math.abs(deltaMs) / 1000);
  const text = s < 90 ? `${s} s` : s < 5400 ? `${Math.round(s / 60)} min` : s < 172800 ? `${(s / 3600).toFixed(1)} h` : `${Math.round(s / 86400)} d`;
  return deltaMs > 0 ? `in ${text}` : `${text} ago`;
}
