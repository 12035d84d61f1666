// Pull-request links from `pr:` and the git remote, table-driven.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRemote, prLink } from '../lib/tasks/pr.ts';

const remotes: [string, ReturnType<typeof parseRemote>][] = [
  ['git@github.com:acme/widgets.git', { host: 'github.com', repo: 'acme/widgets' }],
  ['git@github.com:acme/widgets', { host: 'github.com', repo: 'acme/widgets' }],
  ['https://github.com/acme/widgets.git', { host: 'github.com', repo: 'acme/widgets' }],
  ['https://user:token@github.com/acme/widgets/', { host: 'github.com', repo: 'acme/widgets' }],
  ['ssh://git@gitlab.example.com:2222/group/sub/proj.git', { host: 'gitlab.example.com', repo: 'group/sub/proj' }],
  ['/srv/git/widgets.git', undefined],
  ['', undefined],
];
for (const [url, want] of remotes) test(`remote ${JSON.stringify(url)}`, () => assert.deepEqual(parseRemote(url), want));

const remote = { host: 'github.com', repo: 'acme/widgets' };
const prs: [string | null, ReturnType<typeof prLink>][] = [
  [null, undefined],
  ['  ', undefined],
  ['123', { number: 123, url: 'https://github.com/acme/widgets/pull/123' }],
  ['#45', { number: 45, url: 'https://github.com/acme/widgets/pull/45' }],
  ['https://github.com/other/repo/pull/7', { number: 7, url: 'https://github.com/other/repo/pull/7' }],
  ['https://gitlab.example.com/g/p/-/merge_requests/8', { number: 8, url: 'https://gitlab.example.com/g/p/-/merge_requests/8' }],
  ['javascript:alert(1)', { number: null, url: null }],
  ['not a link', { number: null, url: null }],
  ['0', { number: null, url: null }],
];
for (const [pr, want] of prs) test(`pr ${JSON.stringify(pr)}`, () => assert.deepEqual(prLink(pr, remote), want));

test('a number without a remote has no link but keeps its number', () => {
  assert.deepEqual(prLink('12', undefined), { number: 12, url: null });
});
