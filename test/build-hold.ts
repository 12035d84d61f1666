// Holding the server's build thread in a test: TASKS_BUILD_HOLD names a file, and every build waits while it exists.
import fs from 'node:fs';
import path from 'node:path';
import { type Folder, cliEnv } from './helpers.ts';

/**
 * Holds the build thread of a serve started with `env`: each build waits (without reading or
 * writing anything) until release() removes the hold file, so the test decides when it may run.
 */
export function holdBuild(t: Folder): { env: Record<string, string>; release: () => void } {
  const hold = path.join(t.root, 'build-hold');
  fs.writeFileSync(hold, '');
  return { env: cliEnv({ TASKS_BUILD_HOLD: hold }), release: () => fs.rmSync(hold, { force: true }) };
}
