// The installer's SSH test hosts (packages/installer/test/hosts) where the VIP scenarios will
// run: inside the kernel-suite VM (which chroots into the machine's files) a host comes up with
// its own sshd, takes commands and uploads through the SSH layer, and has an IPVS table of its
// own (its network namespace), which is where lvscare --run-once programs a worker's VIP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createTestHosts } from '@lvscare/installer/testing/hosts';
import { testPool } from '@lvscare/installer/testing/ssh-pool';

test('a test host in this kernel: sshd, commands, an upload, and its own IPVS table', async () => {
  const hosts = await createTestHosts({ count: 1, rootPassword: 'vm-root' });
  const session = await testPool(hosts, { password: 'vm-root' });
  try {
    const host = hosts.at(0);
    const remote = session.pool.host(host.address);
    assert.equal((await remote.run(['hostname'])).stdout, `${host.hostname}\n`);
    assert.deepEqual(await remote.upload(Buffer.alloc(2 * 1024 * 1024, 7), '/var/lib/seal/blob', { mode: 0o600 }), { skipped: false });
    assert.equal((await remote.run(['stat', '-c', '%s %a', '/var/lib/seal/blob'])).stdout, '2097152 600\n');
    await remote.run(['ipvsadm', '-A', '-t', '10.103.97.2:6443', '-s', 'rr']);
    assert.match((await remote.run(['ipvsadm', '-Ln'])).stdout, /TCP {2}10\.103\.97\.2:6443 rr/);
    // 10.103.97.2:6443 in /proc/net/ip_vs's hex: on the host, and not in the namespace this file runs in.
    assert.match(await host.execOk(['cat', '/proc/net/ip_vs']), /TCP {2}0A676102:192B rr/);
    assert.doesNotMatch(readFileSync('/proc/net/ip_vs', 'utf8'), /0A676102/);
  } finally {
    await session.close();
    await hosts.destroy();
  }
});
