#!/usr/bin/env node
// The package's `tasks` command (its bin): `npm install -D <this package>` in any repository, then
// `npx tasks serve` serves THAT repository's tasks/ folder (lib/cli/root.ts finds it). Plain
// JavaScript, so it runs without a TypeScript loader: the bundle when `npm ci` or `npm pack` built
// dist/, else the sources through tsx's API (a dependency).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bundle = path.join(root, 'dist', 'tasks.mjs');
// How scripts/tasks-serve.ts knows it was started so. An environment variable, not a look at
// process.argv[1]: the sources that an out-of-date bundle re-runs inherit it, however old the
// bundle's code. tasks-serve.ts takes it out of every child's environment.
process.env.TASKS_FROM_BIN = '1';
if (fs.existsSync(bundle)) {
  await import(pathToFileURL(bundle).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(path.join(root, 'scripts', 'tasks-serve.ts')).href);
}
