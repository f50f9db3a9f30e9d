// The VM's job script, run here by the same /bin/sh the guest uses: what goes in comes out
// byte for byte, and nothing in it is ever interpreted by the shell.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from './command.ts';
import { renderJobScript, validateVmJob } from './vm-job.ts';

test('argv, env and cwd reach the program unchanged, however hostile', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vm-job-'));
  const canary = path.join(dir, 'injected');
  const cwd = path.join(dir, "it's a dir with spaces");
  try {
    await run(['mkdir', '-p', cwd]);
    const hostile = [`$(touch ${canary})`, `\`touch ${canary}\``, "'; touch " + canary + "; '", 'a\nb', ' lead and trail ', '', '"dq" \\ $HOME *', 'ünïcödé'];
    const script = renderJobScript({
      argv: [process.execPath, '-e', 'console.log(JSON.stringify({ argv: process.argv.slice(1), env: process.env, cwd: process.cwd() }))', ...hostile],
      env: { PATH: '/usr/bin:/bin', ODD: `x'y"z $(touch ${canary})` },
      cwd,
    });
    const file = path.join(dir, 'job.sh');
    writeFileSync(file, script);
    const result = await run(['/bin/sh', file]);
    const seen = JSON.parse(result.stdout) as { argv: string[]; env: Record<string, string>; cwd: string };
    assert.deepEqual(seen.argv, hostile);
    assert.equal(seen.env.ODD, `x'y"z $(touch ${canary})`);
    assert.deepEqual(Object.keys(seen.env).sort(), ['ODD', 'PATH'], 'env -i: only what the job sets');
    assert.equal(seen.cwd, cwd);
    assert.equal(existsSync(canary), false, 'nothing was executed by the shell');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing working directory or program gives the conventional statuses', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vm-job-'));
  try {
    const file = path.join(dir, 'job.sh');
    writeFileSync(file, renderJobScript({ argv: ['true'], env: { PATH: '/usr/bin:/bin' }, cwd: path.join(dir, 'absent') }));
    assert.equal((await run(['/bin/sh', file], { allowFailure: true })).code, 125);
    writeFileSync(file, renderJobScript({ argv: ['no-such-program-here'], env: { PATH: '/usr/bin:/bin' }, cwd: dir }));
    assert.equal((await run(['/bin/sh', file], { allowFailure: true })).code, 127);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('jobs that cannot be passed faithfully are refused', () => {
  const ok = { argv: ['true'], env: {}, cwd: '/' };
  assert.doesNotThrow(() => validateVmJob(ok));
  assert.throws(() => validateVmJob({ ...ok, argv: [] }), /must name a program/);
  assert.throws(() => validateVmJob({ ...ok, argv: ['A=b'] }), /must not contain "="/);
  assert.throws(() => validateVmJob({ ...ok, argv: ['true', 'nul\0byte'] }), /NUL/);
  assert.throws(() => validateVmJob({ ...ok, env: { 'BAD-NAME': 'x' } }), /bad environment variable name/);
  assert.throws(() => validateVmJob({ ...ok, env: { 'X; reboot': 'x' } }), /bad environment variable name/);
  assert.throws(() => validateVmJob({ ...ok, cwd: 'relative' }), /cwd must be absolute/);
});
