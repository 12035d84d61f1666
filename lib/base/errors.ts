// The one error class for operator-facing failures, and the errno test.
/** A failure the operator can fix: printed as one line, never with a stack trace. */
export class TasksError extends Error {
  /** 2 for usage errors, 1 for runtime failures. */
  readonly exitCode: number;
  constructor(message: string, exitCode: 1 | 2 = 1) {
    super(message);
    this.name = 'TasksError';
    this.exitCode = exitCode;
  }
}

/** A usage error: bad action, key, flag or value. Exit code 2. */
export function usageError(message: string): TasksError {
  return new TasksError(message, 2);
}

/** True for a Node system error with the given code (ENOENT, ESRCH, ...). */
export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
