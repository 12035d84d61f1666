// The build's state as /api/health says it: the pages being built (nothing shown yet), shown but a rebuild to come, or current.
export type BuildState = 'current' | 'stale' | 'building';
