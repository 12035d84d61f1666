// An edited task's page goes down with the build its edit starts, in a folder whose search shards outweigh a slice of pending pages (1,000 tasks: 4 shards of about 250): the first `change` an open page hears after the edit finds the new page on disk.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import { generateTasks } from '../bench/generate.ts';
import { serveBare, stopServe, waitUntilAsync, withTempFolder } from './helpers.ts';

const ID = 'AREA_5-TASK_500';

test('the first change after an edit comes with the edited page on disk, though a search shard is pending ahead of it', () => withTempFolder('editpage', async (t) => {
  generateTasks(t.dir, 1000);
  const { s, base } = await serveBare(t);
  const req: http.ClientRequest[] = [];
  try {
    await waitUntilAsync(async () => {
      const r = await fetch(`${base}/api/health`);
      return ((await r.json()) as { build?: string }).build === 'current';
    }, `the build to be current; output:\n${s.output()}`, 180_000);
    const file = path.join(t.dir, 'area-005', `${ID}.md`);
    const page = path.join(t.dir, 'logs', 'task_manager', `site-${t.owner}`, 'tasks', `${ID}.html`);
    assert.ok(fs.readFileSync(page, 'utf8').includes('Generated task number 500'), 'the page before the edit');
    const stamp = `Edited title ${process.pid}`;
    // Each `change` after the edit, with whether the page on disk had the edit when it came.
    const heard: boolean[] = [];
    let opened = false;
    req.push(http.get(`${base}/api/events?page=${encodeURIComponent(`/tasks/${ID}.html`)}`, { agent: false }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          // A frame may open with `retry:`.
          if (/^event: hello$/m.test(frame)) opened = true;
          if (/^event: change$/m.test(frame)) heard.push(fs.readFileSync(page, 'utf8').includes(stamp));
        }
      });
    }));
    await waitUntilAsync(async () => opened, 'the event stream\'s hello', 30_000);
    // Replaced whole (a rename), so no build reads it half-written.
    const text = fs.readFileSync(file, 'utf8').replace(/^title: .*$/m, `title: ${stamp}`);
    fs.writeFileSync(`${file}.tmp`, text);
    fs.renameSync(`${file}.tmp`, file);
    await waitUntilAsync(async () => heard.length > 0, 'a change after the edit', 60_000);
    assert.equal(heard[0], true, `the first change came before the edited page was on disk (changes heard: ${JSON.stringify(heard)})`);
  } finally {
    for (const r of req) r.destroy();
    await stopServe(s);
  }
}));
