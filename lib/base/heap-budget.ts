// A heap budget for a thread that builds in bursts: a full collection once the heap has grown a set amount past what the last one left live, instead of when V8's growth factor says (up to 4× the live heap).
import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * The collector. `--expose-gc` set at run time is a V8 flag for the whole process that takes effect
 * for contexts made after it: `gc` comes from a new one, and the flag is turned off again at once,
 * or every later worker and vm context would have a global `gc` (a script declaring its own fails).
 */
function collector(): (() => void) | undefined {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? gc as () => void : undefined;
  } catch {
    return undefined;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}

/**
 * Collects between the steps of a build once the heap grew more than `slackBytes` past what the
 * last collection left. A first build of 50,000 tasks left 180 MB live and V8 let the heap reach
 * 406 MB of mostly garbage before its first full collection; the server's peak RSS came from that
 * (bench/scale.ts). A check costs a heap statistics call; a collection, about 0.2 s at that size,
 * once per slackBytes of garbage, which V8 would collect later anyway.
 */
export class HeapBudget {
  private readonly gc = collector();
  private live: number;

  constructor(private readonly slackBytes: number) {
    this.live = v8.getHeapStatistics().used_heap_size;
  }

  /** At a step's end: collects when the heap is over budget. True when it did. */
  check(): boolean {
    if (this.gc === undefined) return false;
    const used = v8.getHeapStatistics().used_heap_size;
    if (used < this.live + this.slackBytes) return false;
    this.gc();
    this.live = v8.getHeapStatistics().used_heap_size;
    return true;
  }
}
