# Thin alias: every argument reaches scripts/tasks-serve.ts intact (quoted, no re-splitting).
# dist/tasks.mjs is that script bundled by `npm ci` (no TypeScript loader at run time: ~2x faster start);
# npx hands in .npmrc's NODE_OPTIONS=--import=tsx, which the bundle does not need (+0.13 s a call).
set positional-arguments

# just tasks <action> [key=value ...] [--flag ...]   e.g. just tasks serve owner=dave
[no-exit-message]
tasks *args:
    @if [ -f dist/tasks.mjs ]; then run="node dist/tasks.mjs"; else run="node --import tsx scripts/tasks-serve.ts"; fi; \
      case "${NODE_OPTIONS:-}" in *tsx*) unset NODE_OPTIONS;; esac; \
      TASKS_INVOCATION_DIR={{quote(invocation_directory())}} exec $run "$@"
