// seal's SSH client (ssh2) inside a single executable: the bundle rules of `npm run dist` replace
// ssh2's optional native pieces (its crypto binding, cpu-features) with modules that throw, and ssh2
// falls back to JavaScript. Proven against a real OpenSSH server: a bundle of a small ssh2 client
// made with the same rules, run with `node --no-addons`, logs in with an ed25519 key, checks the
// host key and runs a command.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bundle, type BundleResult } from '../../release/lib/bundle.ts';
import { run } from '../harness/command.ts';
import { type BackgroundProcess, createNetns, type Netns } from '../harness/netns.ts';

const SSHD = '/usr/sbin/sshd';
const PORT = 2222;

let scratch: string;
let netns: Netns;
let sshd: BackgroundProcess;
let bundled: BundleResult;
let bundleFile: string;
let fingerprint: string;

async function keygen(file: string): Promise<void> {
  const result = await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'lvscare-dist-test', '-f', file], { allowFailure: true });
  assert.equal(result.code, 0, `ssh-keygen (Debian package openssh-client): ${result.stderr}`);
}

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), `lvscare-ssh2-bundle-${process.pid}-`));
  bundleFile = join(scratch, 'ssh-exec.cjs');
  bundled = await bundle({ entry: { file: join(import.meta.dirname, 'fixtures', 'ssh-exec.cjs') }, outfile: bundleFile, buildInfo: { commit: 'test', date: 'test' }, minify: false });

  await keygen(join(scratch, 'host_key'));
  await keygen(join(scratch, 'client_key'));
  writeFileSync(join(scratch, 'authorized_keys'), readFileSync(join(scratch, 'client_key.pub')));
  const fp = await run(['ssh-keygen', '-l', '-E', 'sha256', '-f', join(scratch, 'host_key.pub')]);
  fingerprint = /SHA256:(\S+)/.exec(fp.stdout)?.[1] ?? assert.fail(`no fingerprint in ${fp.stdout}`);
  writeFileSync(
    join(scratch, 'sshd_config'),
    [
      `ListenAddress 127.0.0.1:${PORT}`,
      `HostKey ${join(scratch, 'host_key')}`,
      `AuthorizedKeysFile ${join(scratch, 'authorized_keys')}`,
      'PidFile none',
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      '',
    ].join('\n'),
  );
  // sshd's privilege separation directory, as Debian's service creates it.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  netns = await createNetns('lvd');
  sshd = netns.spawn([SSHD, '-D', '-e', '-f', join(scratch, 'sshd_config')]);
  await sshd.waitForOutput(`Server listening on 127.0.0.1 port ${PORT}`, 30_000);
});

after(async () => {
  await sshd?.stop();
  await netns?.delete();
  rmSync(scratch, { recursive: true, force: true });
});

describe("ssh2 in a single executable's bundle", () => {
  it('leaves out the native addons, and only those of ssh2', () => {
    assert.deepEqual([...bundled.stubbedNative].sort(), ['cpu-features', 'node_modules/ssh2/lib/protocol/crypto/build/Release/sshcrypto.node']);
    assert.equal(bundled.usesKoffi, false);
  });

  it('logs in to OpenSSH with JavaScript crypto only and runs a command', async () => {
    const result = await netns.exec(
      [process.execPath, '--no-addons', bundleFile, '127.0.0.1', String(PORT), 'root', join(scratch, 'client_key'), fingerprint, 'echo seal-over-ssh'],
      { allowFailure: true, timeoutMs: 120_000 },
    );
    assert.equal(result.code, 0, result.stderr);
    const session = JSON.parse(result.stdout) as { bindingAvailable: boolean; negotiated: { kex: string; cs: { cipher: string } }; code: number; stdout: string };
    assert.equal(session.bindingAvailable, false, "ssh2's crypto binding is not loaded");
    assert.deepEqual({ code: session.code, stdout: session.stdout }, { code: 0, stdout: 'seal-over-ssh\n' });
    assert.match(session.negotiated.kex, /curve25519|ecdh|diffie-hellman/);
  });

  it('refuses a host key with another fingerprint', async () => {
    const result = await netns.exec(
      [process.execPath, '--no-addons', bundleFile, '127.0.0.1', String(PORT), 'root', join(scratch, 'client_key'), 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'echo never'],
      { allowFailure: true, timeoutMs: 120_000 },
    );
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^ssh: .*(host key|verification)/i);
  });
});
