// The line of files a deferred build left (PendingPages): a search shard weighs its tasks, so a slice takes one shard, not all of them; files asked for are all taken.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PendingPages } from '../lib/web/site/site-pending.ts';

const page = (rel: string) => (): string => rel;

test('a slice takes files while the weight taken is under its max: one heavy shard alone, then pages', () => {
  const p = new PendingPages();
  for (let k = 0; k < 3; k++) p.set(`data/search-${k}.json`, page(`s${k}`), true, 780);
  for (let i = 0; i < 5; i++) p.set(`tasks/T-${i}.html`, page(`T-${i}`));
  assert.deepEqual(p.take(200).map(([rel]) => rel), ['data/search-0.json'], 'one shard of 780 tasks fills a slice of 200');
  assert.deepEqual(p.take(200).map(([rel]) => rel), ['data/search-1.json']);
  assert.deepEqual(p.take(200).map(([rel]) => rel), ['data/search-2.json']);
  assert.deepEqual(p.take(3).map(([rel]) => rel), ['tasks/T-0.html', 'tasks/T-1.html', 'tasks/T-2.html'], 'a page weighs one');
  assert.equal(p.size, 2);
});

test('files asked for are all taken whatever they weigh, before the others; a file deferred again keeps its place and takes its new weight', () => {
  const p = new PendingPages();
  p.set('data/search-0.json', page('s0'), true, 500);
  p.set('data/search-1.json', page('s1'), true, 500);
  p.set('tasks/A.html', page('A'));
  const asked = p.take(2, ['tasks/A.html', 'data/search-1.json', 'tasks/NOT-PENDING.html']);
  assert.deepEqual(asked.map(([rel, render]) => [rel, render()]), [['tasks/A.html', 'A'], ['data/search-1.json', 's1']]);
  // Over max already: nothing else goes with them.
  assert.equal(p.size, 1);
  p.set('data/search-0.json', page('s0 again'), true, 1);
  p.set('tasks/B.html', page('B'));
  assert.deepEqual(p.take(2).map(([rel, render]) => [rel, render()]), [['data/search-0.json', 's0 again'], ['tasks/B.html', 'B']], 'weighs 1 now: the page goes with it');
  assert.equal(p.size, 0);
});
