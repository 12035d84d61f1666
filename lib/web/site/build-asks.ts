// The task routes' questions to the build thread: each answered once, by the thread, or `building` when it died, the server closes or 30 s pass.
import type { ApiAnswer } from './api-answers.ts';

/**
 * How long a task route waits for the thread's answer: it answers between the steps of its work,
 * so a full scan (seconds at 50,000 tasks) can come first. A thread stuck longer than this gets the
 * request a 503 to retry, never a request that hangs.
 */
export const ASK_WAIT_MS = 30_000;

const BUILDING: ApiAnswer = { kind: 'building' };

/** The questions the thread has still to answer, by id. */
export class Questions {
  private readonly waiting = new Map<number, { resolve: (a: ApiAnswer) => void; reject: (err: Error) => void }>();

  /** A question posted under `id`: its answer, `building` after ASK_WAIT_MS. */
  wait(id: number): Promise<ApiAnswer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(BUILDING);
      }, ASK_WAIT_MS);
      timer.unref();
      const settle = <T>(f: (v: T) => void) => (v: T): void => {
        clearTimeout(timer);
        f(v);
      };
      this.waiting.set(id, { resolve: settle(resolve), reject: settle(reject) });
    });
  }

  /** The thread's answer, or the error it met making it (a 500 for that request). */
  answer(id: number, answer: ApiAnswer | undefined, error: string | undefined): void {
    const asked = this.waiting.get(id);
    this.waiting.delete(id);
    if (answer !== undefined) asked?.resolve(answer);
    else asked?.reject(new Error(`the build thread could not answer: ${error ?? 'no answer'}`));
  }

  /** Answers every question still waiting with `building` (the thread that had them is gone). */
  answerAll(): void {
    for (const asked of this.waiting.values()) asked.resolve(BUILDING);
    this.waiting.clear();
  }
}
