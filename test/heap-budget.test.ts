// The build thread's heap budget (HeapBudget): a full collection once the heap grew past the slack, and only then.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Worker } from 'node:worker_threads';
import { HeapBudget } from '../lib/base/heap-budget.ts';

const used = (): number => v8.getHeapStatistics().used_heap_size;

test('collects once the heap is past what the last collection left plus the slack, and the garbage is gone after', () => {
  const budget = new HeapBudget(32 * 1024 * 1024);
  assert.equal(budget.check(), false, 'nothing grew yet');
  let keep: string[][] | undefined = [];
  // About 60 MB of small strings, then dropped: garbage V8 may well keep until its own next collection.
  for (let i = 0; i < 40; i++) keep.push(Array.from({ length: 25_000 }, (_, j) => `garbage ${i} ${j} ${'x'.repeat(20)}`));
  const grown = used();
  assert.ok(grown > 40 * 1024 * 1024 && keep.length === 40, 'the strings are on the heap');
  keep = undefined;
  assert.equal(budget.check(), true, `collected at ${(grown / 1e6).toFixed(0)} MB used`);
  assert.ok(used() < grown - 30 * 1024 * 1024, `the garbage is gone: ${(used() / 1e6).toFixed(0)} MB used after, ${(grown / 1e6).toFixed(0)} MB before`);
  assert.equal(budget.check(), false, 'under budget again');
});

test('the collector is taken without leaving gc exposed: new contexts and workers have no global gc of their own', async () => {
  const budget = new HeapBudget(1024 * 1024);
  assert.equal(typeof budget.check, 'function');
  assert.equal(vm.runInNewContext('typeof gc'), 'undefined');
  // A script that declares its own gc (the writer threads of earlier versions did) still starts.
  assert.equal(vm.runInNewContext('const gc = 1; gc'), 1);
  const worker = new Worker("require('node:worker_threads').parentPort.postMessage(typeof gc)", { eval: true });
  try {
    assert.equal(await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject)), 'undefined');
  } finally {
    await worker.terminate();
  }
});
