// Module ordering for the initramfs, and the busybox check that keeps a dynamic busybox out of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { moduleLoadOrder, moduleName, parseModuleIndex } from './kernel-modules.ts';
import { isStaticElf } from './initramfs.ts';

// The shape depmod writes: "path: dependencies", the closure of every module's needs.
const MODULES_DEP = `kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko
kernel/net/9p/9pnet.ko:
kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko
kernel/fs/netfs/netfs.ko:
kernel/drivers/char/hw_random/virtio-rng.ko: kernel/drivers/virtio/virtio.ko
kernel/drivers/virtio/virtio.ko:
kernel/a.ko: kernel/b.ko
kernel/b.ko: kernel/a.ko
`;
const BUILTIN = 'kernel/fs/overlayfs/overlay.ko\n';

test('every module comes after the modules it needs, once, built-ins left out', () => {
  const index = parseModuleIndex(MODULES_DEP, BUILTIN);
  const order = moduleLoadOrder(index, ['9p', 'virtio-rng', 'overlay', 'netfs']);
  assert.deepEqual(order, [
    'kernel/net/9p/9pnet.ko',
    'kernel/fs/netfs/netfs.ko',
    'kernel/fs/fscache/fscache.ko',
    'kernel/fs/9p/9p.ko',
    'kernel/drivers/virtio/virtio.ko',
    'kernel/drivers/char/hw_random/virtio-rng.ko',
  ]);
});

test('unknown modules and dependency cycles are errors that name the module', () => {
  const index = parseModuleIndex(MODULES_DEP, BUILTIN);
  assert.throws(() => moduleLoadOrder(index, ['ip_vs_nonexistent']), /ip_vs_nonexistent is neither in modules\.dep nor built in/);
  assert.throws(() => moduleLoadOrder(index, ['a']), /cycle through kernel\/(a|b)\.ko/);
});

test('module names treat - and _ alike and drop compression suffixes', () => {
  assert.equal(moduleName('kernel/drivers/char/hw_random/virtio-rng.ko'), 'virtio_rng');
  assert.equal(moduleName('kernel/net/netfilter/ipvs/ip_vs_rr.ko.xz'), 'ip_vs_rr');
});

test('a statically linked busybox is told apart from dynamic executables and non-ELF files', () => {
  assert.equal(isStaticElf(readFileSync('/bin/busybox')), true, "busybox-static's /bin/busybox (apt-get install -y busybox-static)");
  assert.equal(isStaticElf(readFileSync('/bin/ls')), false, 'coreutils ls is dynamic');
  assert.equal(isStaticElf(Buffer.from('#!/bin/sh\necho not elf\n'.padEnd(80, ' '))), false);
});
