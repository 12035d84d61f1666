// topFields: the top-level fields of a JSON object as byte slices, each the same value JSON.parse finds, and undefined for what is not one whole object; the build thread's snapshot read on it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fieldOrNothing, parseField, topFields } from '../lib/base/json-fields.ts';
import { SharedFacts } from '../lib/web/http/snapshot-shared.ts';
import { readSnapshotFile } from '../lib/web/render/snapshot-read.ts';

const fieldsOf = (text: string): Record<string, unknown> | undefined => {
  const found = topFields(Buffer.from(text, 'utf8'));
  return found === undefined ? undefined : Object.fromEntries([...found.keys()].map((k) => [k, parseField(found, k)]));
};

test('each field parses to what JSON.parse gives for it: strings with braces, quotes and escapes, nesting, scalars, unicode, spacing', () => {
  const docs = [
    '{}',
    ' \n{ } \n',
    '{"a":1}',
    '{"a":-1.5e+3,"b":true,"c":false,"d":null,"e":0}',
    '{"s":"}{][,:\\"\\\\","t":"\\u00e9\\n"}',
    '{"nested":{"x":[1,{"y":"]"}],"z":{}},"list":[[],[[]],{"k":"v"}]}',
    '{"é ключ 🙂":"значение 🙂","\\"quoted\\" key":"v"}',
    '{\n  "pretty": [\n    1,\n    2\n  ],\n  "then": "more"\n}\n',
    '{"a":1,"a":2}',
    '{"a" : 1 , "b" :\t[ 1 , 2 ] }',
  ];
  for (const text of docs) assert.deepEqual(fieldsOf(text), JSON.parse(text), text);
});

test('a snapshot-sized document: every field is the same as in a whole parse', () => {
  const ci = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`T-${i}`, { state: ['passing', 'failing'][i % 2], checkedAt: null, pr: `#${i} "x}"`, source: 'frontmatter' }]));
  const doc = { owner: 'dave', tick: 3, counts: { total: 5000 }, ci, escalations: [{ id: 'T-1', reason: 'status blocked; {odd} [reason]', since: '2026-01-01T00:00:00.000Z' }], registry: { kind: 'file', where: '/r/registry.json' } };
  const text = JSON.stringify(doc);
  assert.deepEqual(fieldsOf(text), doc);
});

test('what is not one whole object is undefined: torn, truncated inside a string or a list, an array, trailing bytes, no key', () => {
  const whole = '{"a":{"b":[1,2,"x"]},"c":"d"}';
  for (let cut = 0; cut < whole.length; cut++) assert.equal(topFields(Buffer.from(whole.slice(0, cut))), undefined, `cut at ${cut}: ${whole.slice(0, cut)}`);
  const broken = ['', '[1,2]', '"a"', '1', '{"a":1} x', '{"a":1}{}', '{a:1}', '{"a" 1}', '{"a":}', '{"a":1,}', '{"a":1 "b":2}', '{"a\\":1}',
    // Brackets that do not pair: a field that parses must not come from inside a broken one.
    '{"ci":[},"registry":{"kind":"postgres"},"x":]}', '{"a":[1}', '{"a":{]}',
    // A scalar runs into the next key: that key is not swallowed into it.
    '{"a":1"registry":2}', '{"a":true[1]}'];
  for (const text of broken) {
    assert.equal(topFields(Buffer.from(text)), undefined, text);
  }
});

test('a bad value is found at its parse, not before: its field throws a SyntaxError, the others still parse', () => {
  const found = topFields(Buffer.from('{"bad":[1,,2],"good":{"x":1}}'));
  assert.ok(found !== undefined);
  assert.throws(() => parseField(found, 'bad'), SyntaxError);
  assert.deepEqual(parseField(found, 'good'), { x: 1 });
  assert.equal(parseField(found, 'absent'), undefined);
});

test('fieldOrNothing: a bad field is nothing, the others still read; SharedFacts keeps the registry when the claims are bad', () => {
  const registry = { kind: 'postgres', where: 'postgres://db/q', queue: 'q', host: 'here', unreachableSince: '2026-01-01T00:00:00.000Z' };
  const text = `{"claims":[{"id":"A","host":"there"},,],"registry":${JSON.stringify(registry)}}`;
  const found = topFields(Buffer.from(text));
  assert.ok(found !== undefined);
  assert.equal(fieldOrNothing(found, 'claims'), undefined);
  assert.deepEqual(fieldOrNothing(found, 'registry'), registry);
  const shared = new SharedFacts('here').of({ sig: '1', fields: () => found });
  assert.deepEqual(shared.registry, registry, 'an unreachable database still shows on /api/health');
  assert.equal(shared.remote.size, 0);
  const good = topFields(Buffer.from(`{"claims":[{"id":"A","host":"there","log":"/l"},{"id":"B","host":"here"}],"registry":${JSON.stringify(registry)}}`));
  assert.deepEqual([...new SharedFacts('here').of({ sig: '2', fields: () => good }).remote], [['A', { host: 'there', log: '/l' }]]);
});

test('keep refuses fields by their bytes: a refused field gets no slice and takes an earlier one of its key with it, as the last one wins', () => {
  const text = '{"a":{"source":"frontmatter"},"b":1,"c":{"x":2},"c":{"source":"frontmatter"},"d":{"source":"gh"}}';
  const bytes = Buffer.from(text);
  const found = topFields(bytes, (start, end) => !bytes.toString('utf8', start, end).includes('frontmatter'));
  assert.deepEqual(found === undefined ? undefined : Object.fromEntries([...found.keys()].map((k) => [k, parseField(found, k)])), { b: 1, d: { source: 'gh' } });
});

test('readSnapshotFile: every field as JSON.parse gives it but the ci entries that echo a task file, which are not parsed; what JSON.parse refuses, or no regular file, is undefined', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapread-'));
  try {
    const file = path.join(dir, 'snapshot.json');
    const ci = {
      'ECHO-1': { state: 'passing', checkedAt: null, pr: null, source: 'frontmatter' },
      'GH-1': { state: 'failing', checkedAt: '2026-12-07T10:00:00Z', pr: 'https://github.com/a/b/pull/1', source: 'gh' },
      'OLD-1': { state: 'pending', checkedAt: null, pr: '7' },
      'ECHO-2': { state: 'pending', checkedAt: null, pr: 'https://x.invalid/pull/2', source: 'frontmatter' },
    };
    const snap = { owner: 'o', tick: 3, escalations: [{ id: 'A', reason: 'r } ]', since: 's' }], ready: [{ id: 'B' }], ci, registry: { claims: {} } };
    fs.writeFileSync(file, `${JSON.stringify(snap)}\n`);
    const { 'ECHO-1': _e1, 'ECHO-2': _e2, ...kept } = ci;
    assert.deepEqual(readSnapshotFile(file), { ...snap, ci: kept });
    // A `__proto__` key is a field, as JSON.parse makes it, never the object's prototype.
    fs.writeFileSync(file, '{"__proto__":{"polluted":true},"tick":1}');
    const odd = readSnapshotFile(file) as unknown as Record<string, unknown>;
    assert.deepEqual([Object.getPrototypeOf(odd) === Object.prototype, Object.hasOwn(odd, '__proto__'), (odd as { polluted?: boolean }).polluted], [true, true, undefined]);
    const text = JSON.stringify(snap);
    for (const bad of [text.slice(0, -1), text.slice(0, text.indexOf('GH-1')), `${text}x`, '[1,2]', '', '{"tick":1,"ci":{"X":{"state":tru}}}', '{"ci":{"E":{"state":"x","source":"frontmatter"}},"tick":01}']) {
      fs.writeFileSync(file, bad);
      assert.equal(readSnapshotFile(file), undefined, bad.slice(0, 80));
    }
    fs.rmSync(file);
    assert.equal(readSnapshotFile(file), undefined, 'missing');
    fs.symlinkSync(path.join(dir, 'elsewhere.json'), file);
    fs.writeFileSync(path.join(dir, 'elsewhere.json'), JSON.stringify(snap));
    assert.equal(readSnapshotFile(file), undefined, 'a link is not followed');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
