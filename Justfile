# Thin alias: every argument reaches scripts/tasks-serve.ts intact (quoted, no re-splitting).
set positional-arguments

# just tasks <action> [key=value ...] [--flag ...]   e.g. just tasks serve owner=dave
[no-exit-message]
tasks *args:
    @TASKS_INVOCATION_DIR={{quote(invocation_directory())}} node --import tsx scripts/tasks-serve.ts "$@"
