// In-process tests of the text `startup` writes: unit and crontab quoting read back, the crontab merge, the environment file.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { TasksError } from '../lib/base/errors.ts';
import { commandChanges, cronExec, cronLine, cronWord, cronWords, envFileText, envFileVars, mergeCrontab, systemdWord, systemdWords } from '../lib/supervise/startup-unit.ts';

const HOSTILE = ['plain', 'a b', "it's", 'say "hi"', '100%', '\\%', '%%s', '$HOME ${X} $$', 'back\\slash\\', '`date`', 'semi;colon', 'tab\there', '#hash', 'ünïcødé'];

describe('quoting reads back exactly', () => {
  test('systemd words', () => {
    const words = [...HOSTILE, 'new\nline', 'bell\x07'];
    assert.deepEqual(systemdWords(words.map(systemdWord).join(' ')), words);
  });
  test('crontab words, through cron\'s % rule and a real sh', () => {
    for (const w of HOSTILE) {
      assert.deepEqual(cronWords(cronWord(w)), [w]);
      // What cron hands sh: every `\%` becomes `%` (the character before it is always a quote here).
      const shText = cronWord(w).replace(/\\%/g, '%');
      assert.equal(execFileSync('/bin/sh', ['-c', `printf '%s' ${shText}`], { encoding: 'utf8' }), w);
    }
  });
  test('a line break is refused in a crontab line', () => {
    assert.throws(() => cronWord('a\nb'), TasksError);
  });
  test('the command of a whole line', () => {
    const exec = ['/usr/bin/node', '/x/tasks.mjs', 'ensure', 'owner=o', 'dispatch=echo 5% \'q\''];
    assert.deepEqual(cronExec(cronLine('tasks-o-1', { cwd: '/x', envFile: '/h/e.env', exec })), exec);
  });
});

describe('mergeCrontab', () => {
  const ours = (n: string): string => `@reboot true # tasks-startup ${n}`;
  test('appends to a crontab without a final newline, keeping its lines', () => {
    const r = mergeCrontab('a\nb', 'n1', ours('n1'));
    assert.equal(r.text, `a\nb\n${ours('n1')}\n`);
    assert.equal(r.found, undefined);
  });
  test('replaces ours in place, drops a second copy, keeps another name', () => {
    const before = `x\n${ours('n1')}\ny\n${ours('n2')}\n${ours('n1')}\n`;
    const r = mergeCrontab(before, 'n1', '@reboot new # tasks-startup n1');
    assert.equal(r.text, `x\n@reboot new # tasks-startup n1\ny\n${ours('n2')}\n`);
    assert.equal(r.found, ours('n1'));
  });
  test('removing the only line leaves an empty crontab', () => {
    assert.equal(mergeCrontab(`${ours('n1')}\n`, 'n1', undefined).text, '');
  });
});

describe('environment file and changes', () => {
  test('both syntaxes read back', () => {
    const vars = { PATH: '/a:/b', TASK_MANAGER_REGISTRY: 'postgres://u:p"a$s`s\\w\'d@h/db', TASK_MANAGER_NOTIFY: '' };
    assert.deepEqual(envFileVars(envFileText(vars, 'systemd')), vars);
    assert.deepEqual(envFileVars(envFileText(vars, 'shell')), vars);
  });
  test('the shell syntax, sourced by sh', () => {
    const vars = { X_ONE: "it's $HOME `x` \\ %" };
    const file = envFileText(vars, 'shell');
    assert.equal(execFileSync('/bin/sh', ['-c', `${file}\nprintf '%s' "$X_ONE"`], { encoding: 'utf8' }), vars.X_ONE);
  });
  test('commandChanges names keys and flags', () => {
    assert.deepEqual(commandChanges(['n', 'interval=30', 'max=1'], ['n', 'interval=10', 'max=1', '--detach']), ['interval=10 (was 30)', '--detach']);
  });
});
