// The netlink layer against this host's real kernel: nlctrl family lookups, extended ACKs,
// stale ACKs, receive timeouts, and sockets created inside other network namespaces.
import assert from 'node:assert/strict';
import { existsSync, readlinkSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { IpvsClient } from '../src/client.ts';
import { IpvsError } from '../src/errors.ts';
import { GenlChannel, decodeFamily, encodeGetFamily, genlPayload, resolveFamily } from '../src/genl.ts';
import { CTRL_ATTR, CTRL_CMD, GENL_ID_CTRL, NETLINK_GENERIC, NETLINK_ROUTE, NLMSG, NLM_F_DUMP } from '../src/kernel-constants.ts';
import { libc } from '../src/libc.ts';
import { NetlinkSocket } from '../src/netlink.ts';
import { withNetns } from '../src/netns.ts';
import { frameRequest, type NetlinkRequest } from '../src/nlmsg.ts';
import { createNetns, deleteNetns, requireRoot } from './host-netns.ts';
import { netnsCookie } from './netns-cookie.ts';

/** A CTRL_CMD_GETFAMILY request with hand-made attributes (or none: a dump). */
function getFamilyRequest(flags: number, payload: Buffer): NetlinkRequest {
  return { command: 'CTRL_CMD_GETFAMILY', flags, payload };
}

function assertIpvsError(fn: () => unknown, expected: Partial<Pick<IpvsError, 'kind' | 'code' | 'command'>>, message?: RegExp): IpvsError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof IpvsError, `expected an IpvsError, got ${String(caught)}`);
  for (const [field, value] of Object.entries(expected)) assert.equal(caught[field as keyof IpvsError], value, `${field} of: ${caught.message}`);
  if (message !== undefined) assert.match(caught.message, message);
  return caught;
}

describe('generic netlink on the host kernel', () => {
  let socket: NetlinkSocket;
  before(() => {
    requireRoot();
    socket = NetlinkSocket.open(NETLINK_GENERIC);
  });
  after(() => socket.close());

  it('resolves the nlctrl family: id 0x10, version 2', () => {
    assert.ok(socket.portId > 0);
    const family = resolveFamily(socket, 'nlctrl');
    assert.deepEqual(family && { id: family.id, name: family.name, version: family.version }, { id: GENL_ID_CTRL, name: 'nlctrl', version: 2 });
  });

  it('answers "no such family" with undefined, and IPVS exactly when the kernel lacks it', () => {
    assert.equal(resolveFamily(socket, 'NoSuchFamily42'), undefined);
    const ipvs = resolveFamily(socket, 'IPVS');
    assert.equal(ipvs === undefined, !existsSync('/proc/net/ip_vs'), 'the genl family and /proc/net/ip_vs must agree');
  });

  it('IpvsClient.open gives a clear "IPVS not available" error on a kernel without IPVS', () => {
    let client: IpvsClient | undefined;
    let error: unknown;
    try {
      client = IpvsClient.open();
    } catch (err) {
      error = err;
    }
    if (existsSync('/proc/net/ip_vs')) {
      // A host with IPVS (module present): the same call must work instead.
      assert.equal(error, undefined);
      assert.equal(client?.info().version, '1.2.1');
      client?.close();
      return;
    }
    assert.ok(error instanceof IpvsError, String(error));
    assert.equal(error.kind, 'ipvs-unavailable');
    assert.equal(error.code, 'ENOENT');
    assert.match(error.message, /IPVS is not available in this kernel/);
    assert.match(error.message, /modprobe ip_vs/);
  });

  it('decodes the kernel\'s extended ACK (policy violation: name without NUL)', () => {
    const payload = genlPayload(CTRL_CMD.GETFAMILY, 1).bytes(CTRL_ATTR.FAMILY_NAME, Buffer.from('IPVS')).finish();
    const error = assertIpvsError(() => socket.request(GENL_ID_CTRL, getFamilyRequest(0, payload)), { kind: 'kernel', code: 'EINVAL' });
    assert.equal(error.extAck?.message, 'Attribute failed policy validation');
    assert.equal(error.extAck?.offset, 20);
    assert.match(error.message, /kernel: Attribute failed policy validation/);
  });

  it('skips a stale ACK left queued by an earlier reader', () => {
    // Send a lookup and read only its data message, as moby does; the ACK stays queued.
    const stale = frameRequest(GENL_ID_CTRL, encodeGetFamily('nlctrl'), 12345);
    assert.equal(libc().send(socket.fd, stale, stale.length, 0), stale.length);
    const rx = Buffer.alloc(65536);
    const n = libc().recv(socket.fd, rx, rx.length, 0);
    assert.ok(n > 0 && rx.readUInt16LE(4) === GENL_ID_CTRL, 'first datagram is the family reply');
    // The next request must ignore that ACK (other seq) and wait for its own answer.
    const family = resolveFamily(socket, 'nlctrl');
    assert.equal(family?.name, 'nlctrl');
  });

  it('a failing message handler does not leave a dump half-read (the next dump works)', () => {
    const dump = getFamilyRequest(NLM_F_DUMP, genlPayload(CTRL_CMD.GETFAMILY, 1).finish());
    assert.throws(
      () =>
        socket.request(GENL_ID_CTRL, dump, {
          onMessage: () => {
            throw new Error('handler failed');
          },
        }),
      /handler failed/,
    );
    let families = 0;
    socket.request(GENL_ID_CTRL, dump, {
      onMessage: () => {
        families++;
      },
    });
    assert.ok(families >= 2, `expected the family list, got ${families} entries`);
  });

  it('a stale family id (ENOENT from genl) is looked up again once and the request retried', () => {
    const nlctrl = resolveFamily(socket, 'nlctrl');
    assert.ok(nlctrl !== undefined);
    let lookups = 0;
    // 0x3ff: no family is registered under it, as after a module reload moved the real one.
    const channel = new GenlChannel(socket, { ...nlctrl, id: 0x3ff }, () => {
      lookups++;
      return nlctrl;
    });
    let answered: string | undefined;
    channel.request(encodeGetFamily('nlctrl'), {
      onMessage: (m) => {
        answered = decodeFamily(m.buf, m).name;
      },
    });
    assert.equal(answered, 'nlctrl');
    assert.equal(lookups, 1);
    assert.equal(channel.familyId, GENL_ID_CTRL);
    // A genuine ENOENT (the lookup returns the same id) is reported, not retried forever.
    assertIpvsError(() => channel.request(encodeGetFamily('NoSuchFamily42')), { kind: 'kernel', code: 'ENOENT', command: 'CTRL_CMD_GETFAMILY' });
    assert.equal(lookups, 2);
  });

  it('times out with ETIMEDOUT instead of hanging when no answer comes', () => {
    const quiet = NetlinkSocket.open(NETLINK_GENERIC, { receiveTimeoutMs: 50 });
    try {
      // The kernel skips a control message (type below NLMSG_MIN_TYPE) and, without NLM_F_ACK
      // (a dump never gets one from the socket), answers nothing; we wait for NLMSG_DONE.
      const ignored: NetlinkRequest = { command: 'NLMSG_NOOP', flags: NLM_F_DUMP, payload: Buffer.alloc(0) };
      assertIpvsError(() => quiet.request(NLMSG.NOOP, ignored), { code: 'ETIMEDOUT' }, /no answer from the kernel/);
    } finally {
      quiet.close();
    }
  });

  it('refuses requests after close with EBADF', () => {
    const closing = NetlinkSocket.open(NETLINK_GENERIC);
    closing.close();
    closing.close();
    assertIpvsError(() => resolveFamily(closing, 'nlctrl'), { code: 'EBADF' });
  });

  it('validates options before creating a socket', () => {
    assertIpvsError(() => NetlinkSocket.open(NETLINK_GENERIC, { receiveTimeoutMs: -1 }), { kind: 'invalid-input' });
  });
});

describe('sockets in other network namespaces', () => {
  let name: string;
  before(() => {
    name = createNetns();
  });
  after(() => deleteNetns(name));

  const cookie = (s: NetlinkSocket): bigint => netnsCookie(s.fd);
  const threadNetns = (): string => readlinkSync('/proc/thread-self/ns/net');

  it('creates the socket inside the namespace and returns the thread to its own', () => {
    const before = threadNetns();
    const host = NetlinkSocket.open(NETLINK_ROUTE);
    const inside1 = NetlinkSocket.open(NETLINK_ROUTE, { netns: name });
    const inside2 = NetlinkSocket.open(NETLINK_GENERIC, { netns: name });
    try {
      assert.equal(threadNetns(), before);
      assert.notEqual(cookie(inside1), cookie(host));
      assert.equal(cookie(inside1), cookie(inside2));
    } finally {
      host.close();
      inside1.close();
      inside2.close();
    }
  });

  it('restores the namespace when the callback throws', () => {
    const before = threadNetns();
    assert.throws(
      () =>
        withNetns(name, () => {
          assert.notEqual(threadNetns(), before);
          throw new Error('inside');
        }),
      /inside/,
    );
    assert.equal(threadNetns(), before);
  });

  it('a missing namespace is a clear error and changes nothing', () => {
    const before = threadNetns();
    assertIpvsError(() => NetlinkSocket.open(NETLINK_ROUTE, { netns: 'no-such-ns-ipvs' }), { kind: 'syscall', code: 'ENOENT' }, /\/run\/netns\/no-such-ns-ipvs/);
    assert.equal(threadNetns(), before);
  });

  it('rejects names that would leave /run/netns', () => {
    for (const bad of ['', '..', '../../proc/1/ns/net', 'a/b', 'x\0y']) {
      assertIpvsError(() => withNetns(bad, () => 1), { kind: 'invalid-input' });
    }
  });
});
