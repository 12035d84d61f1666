// Asking git about the repository around a folder (zx's $: quoting is automatic, failures carry stderr).
import { $ } from 'zx';

/** The top folder of the git work tree that holds dir; undefined outside git (or without git). */
export async function repoRoot(dir: string): Promise<string | undefined> {
  const r = await $({ cwd: dir, nothrow: true, quiet: true })`git rev-parse --show-toplevel`;
  return r.exitCode === 0 ? r.stdout.trim() || undefined : undefined;
}

/** The fetch URL of the remote `origin` (else the first remote) of dir's repository; undefined when none. */
export async function remoteUrl(dir: string): Promise<string | undefined> {
  const origin = await $({ cwd: dir, nothrow: true, quiet: true })`git remote get-url origin`;
  if (origin.exitCode === 0 && origin.stdout.trim()) return origin.stdout.trim();
  const names = await $({ cwd: dir, nothrow: true, quiet: true })`git remote`;
  const first = names.exitCode === 0 ? names.stdout.split('\n').find((n) => n.trim() !== '') : undefined;
  if (first === undefined) return undefined;
  const url = await $({ cwd: dir, nothrow: true, quiet: true })`git remote get-url ${first.trim()}`;
  return url.exitCode === 0 ? url.stdout.trim() || undefined : undefined;
}
