// Decoding: kernel-shaped replies (ipvs-netlink.md 5.1/5.2), old-kernel variants, libipvs and
// moby requests, ACK/error payloads, and typed errors for malformed input.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IpvsError } from '../src/errors.ts';
import {
  decodeConfigMessage,
  decodeDestinationMessage,
  decodeInfoMessage,
  decodeServiceMessage,
  encodeNewDest,
  encodeNewService,
  encodeSetConfig,
} from '../src/ipvs-codec.ts';
import { checkDestSpec, checkServiceKey, checkServiceSpec } from '../src/ipvs-wire.ts';
import { NLMSG } from '../src/kernel-constants.ts';
import { PayloadWriter, decodeErrorPayload, forEachMessage, frameRequest, type MessageHeader, type NetlinkRequest } from '../src/nlmsg.ts';
import type { Destination, Service } from '../src/types.ts';
import { decodeIpvsMessage } from './ipvs-message.ts';
import {
  FAMILY_ID,
  doneMessage,
  inetUnion,
  ipv4ServiceMessage,
  kernelDestMessage,
  kernelMessage,
  kernelServiceMessage,
  someStats,
} from './kernel-shaped.ts';
import { libipvsNewDest, libipvsNewService } from './libipvs.ts';

const whole = (buf: Buffer): Pick<MessageHeader, 'offset' | 'length'> => ({ offset: 0, length: buf.length });
/** The request as the socket would send it to IPVS family FAMILY_ID. */
const sent = (request: NetlinkRequest, seq = 0): Buffer => frameRequest(FAMILY_ID, request, seq);
const fromHex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const big = 2 ** 40 + 5; // beyond 32 bits, exact as a JS number

function assertMalformed(fn: () => unknown, pattern?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof IpvsError, `expected IpvsError, got ${String(err)}`);
    assert.equal(err.kind, 'malformed-message');
    assert.equal(err.code, 'EBADMSG');
    if (pattern !== undefined) assert.match(err.message, pattern);
    return true;
  });
}

describe('kernel replies', () => {
  it('GET_SERVICE: a 320-byte IPv4 TCP service, STATS64 preferred over STATS', () => {
    const msg = ipv4ServiceMessage([10, 103, 97, 2], { port: 6443, stats: someStats(100), stats64: { ...someStats(0), inBytes: big } });
    assert.equal(msg.length, 320, 'fixture must match the documented kernel size');
    const service = decodeServiceMessage(msg, whole(msg));
    assert.deepEqual(service, {
      protocol: 'tcp',
      address: '10.103.97.2',
      port: 6443,
      family: 'ipv4',
      scheduler: 'rr',
      persistent: false,
      timeout: 0,
      netmask: '255.255.255.255',
      flags: 0x2,
      stats: { ...someStats(0), inBytes: big },
    } satisfies Service);
  });

  it('GET_SERVICE: without STATS64 (kernels before 4.1) the 32-bit STATS are used', () => {
    const msg = ipv4ServiceMessage([10, 0, 0, 1], {
      protocol: 17,
      port: 53,
      scheduler: 'wlc',
      flags: 0x3,
      timeout: 360,
      netmask: fromHex('ffffff00'),
      stats: someStats(7),
    });
    const service = decodeServiceMessage(msg, whole(msg));
    assert.equal(service.family, 'ipv4');
    assert.deepEqual(service.stats, someStats(7));
    assert.equal(service.persistent, true);
    assert.equal(service.timeout, 360);
    assert.equal(service.netmask, '255.255.255.0');
    assert.ok('protocol' in service && service.protocol === 'udp');
  });

  it('GET_SERVICE: IPv6 SCTP service with a persistence engine; netmask is a prefix length', () => {
    const addr = fromHex('20010db8000000000000000000000001');
    const netmask = Buffer.alloc(4);
    netmask.writeUInt32LE(64, 0);
    const msg = kernelServiceMessage({
      af: 10,
      protocol: 132,
      addr,
      port: 443,
      scheduler: 'sh',
      peName: 'sip',
      flags: 0x3,
      timeout: 10800,
      netmask,
      stats: someStats(0),
      stats64: someStats(0),
    });
    const service = decodeServiceMessage(msg, whole(msg));
    assert.ok('address' in service);
    assert.equal(service.address, '2001:db8::1');
    assert.equal(service.protocol, 'sctp');
    assert.equal(service.netmask, 64);
    assert.equal(service.persistenceEngine, 'sip');
  });

  it('GET_SERVICE: fwmark service', () => {
    const msg = kernelServiceMessage({
      af: 10,
      fwmark: 100,
      scheduler: 'rr',
      flags: 0x2,
      timeout: 0,
      netmask: fromHex('80000000'),
      stats: someStats(0),
      stats64: someStats(0),
    });
    const service = decodeServiceMessage(msg, whole(msg));
    assert.ok('fwmark' in service);
    assert.equal(service.fwmark, 100);
    assert.equal(service.family, 'ipv6');
    assert.equal(service.netmask, 128);
  });

  it('GET_DEST: a 356-byte destination with every attribute of a current kernel', () => {
    const msg = kernelDestMessage({
      addr: inetUnion([192, 168, 0, 10]),
      port: 6443,
      forward: 0,
      weight: 70000,
      upperThreshold: 100,
      lowerThreshold: 50,
      activeConns: 3,
      inactiveConns: 4,
      persistConns: 5,
      af: 2,
      stats: someStats(1000),
      stats64: { ...someStats(0), outBytes: big },
    });
    assert.equal(msg.length, 356, 'fixture must match the documented kernel size');
    assert.deepEqual(decodeDestinationMessage(msg, whole(msg)), {
      address: '192.168.0.10',
      port: 6443,
      family: 'ipv4',
      weight: 70000,
      forward: 'masq',
      upperThreshold: 100,
      lowerThreshold: 50,
      activeConns: 3,
      inactiveConns: 4,
      persistConns: 5,
      stats: { ...someStats(0), outBytes: big },
    } satisfies Destination);
  });

  it('GET_DEST: an old kernel (no ADDR_FAMILY, TUN_* or STATS64) takes the service family', () => {
    const fields = {
      port: 80,
      weight: 1,
      upperThreshold: 0,
      lowerThreshold: 0,
      activeConns: 0,
      inactiveConns: 0,
      persistConns: 0,
      tunnel: false,
      stats: someStats(0),
    };
    const v4 = kernelDestMessage({ ...fields, addr: inetUnion([10, 1, 2, 3]), forward: 3 });
    const v6 = kernelDestMessage({ ...fields, addr: fromHex('fd000000000000000000000000000002'), forward: 2 });
    const d4 = decodeDestinationMessage(v4, whole(v4), 'ipv4');
    const d6 = decodeDestinationMessage(v6, whole(v6), 'ipv6');
    assert.deepEqual([d4.address, d4.family, d4.forward], ['10.1.2.3', 'ipv4', 'route']);
    assert.deepEqual([d6.address, d6.family, d6.forward], ['fd00::2', 'ipv6', 'tunnel']);
  });

  it('a dump datagram: several services then NLMSG_DONE, walked message by message', () => {
    const services = [1, 2, 3].map((n) => ipv4ServiceMessage([10, 0, 0, n], { stats: someStats(n) }));
    const datagram = Buffer.concat([...services, doneMessage()]);
    const seen: string[] = [];
    forEachMessage(datagram, datagram.length, (header) => {
      if (header.type === NLMSG.DONE) seen.push('DONE');
      else {
        const service = decodeServiceMessage(datagram, header);
        seen.push('address' in service ? service.address : '?');
      }
      return true;
    });
    assert.deepEqual(seen, ['10.0.0.1', '10.0.0.2', '10.0.0.3', 'DONE']);
  });

  it('GET_INFO and GET_CONFIG replies', () => {
    const info = kernelMessage(FAMILY_ID, 0, new PayloadWriter().raw(Uint8Array.of(14, 1, 0, 0)).u32(1, 0x010201).u32(2, 4096));
    assert.deepEqual(decodeInfoMessage(info, whole(info)), { version: '1.2.1', connTableSize: 4096 });
    const config = kernelMessage(FAMILY_ID, 0, new PayloadWriter().raw(Uint8Array.of(12, 1, 0, 0)).u32(4, 900).u32(5, 120).u32(6, 300));
    assert.deepEqual(decodeConfigMessage(config, whole(config)), { tcp: 900, tcpFin: 120, udp: 300 });
  });
});

describe('requests decode back to what was encoded', () => {
  const spec = { protocol: 'tcp', address: '10.103.97.2', port: 6443, scheduler: 'rr' } as const;
  const service = checkServiceSpec('test', spec);
  const dest = checkDestSpec('test', service, { address: '192.168.0.10', port: 6443 });

  const layouts = {
    moby: { newService: encodeNewService, newDest: encodeNewDest },
    libipvs: { newService: libipvsNewService, newDest: libipvsNewDest },
  };
  for (const [style, encode] of Object.entries(layouts)) {
    it(`${style} NEW_SERVICE and NEW_DEST`, () => {
      const svcMessage = decodeIpvsMessage(sent(encode.newService(service), 1));
      assert.equal(svcMessage.cmd, 1);
      assert.equal(svcMessage.familyId, FAMILY_ID);
      assert.equal(svcMessage.flags, 0x0005);
      assert.deepEqual(svcMessage.service, {
        ...spec,
        family: 'ipv4',
        persistent: false,
        timeout: 0,
        netmask: '255.255.255.255',
        flags: 0,
        stats: someStatsZero(),
      });
      const destMessage = decodeIpvsMessage(sent(encode.newDest(service, dest), 2));
      assert.equal(destMessage.cmd, 5);
      assert.equal(destMessage.seq, 2);
      assert.deepEqual(destMessage.destination, {
        address: '192.168.0.10',
        port: 6443,
        family: 'ipv4',
        weight: 1,
        forward: 'masq',
        upperThreshold: 0,
        lowerThreshold: 0,
        activeConns: 0,
        inactiveConns: 0,
        persistConns: 0,
        stats: someStatsZero(),
      });
    });
  }

  it('libipvs GET_DEST dump (identity-only nest, NLA_F_NESTED) from its documented bytes', () => {
    const message = decodeIpvsMessage(
      fromHex(`44000000 2400 0503 03000000 00000000 08010000 30000180
        06000100 02000000 06000200 06000000 14000300 0a676102 00000000 00000000 00000000 06000400 192b0000`),
    );
    assert.equal(message.cmd, 8);
    assert.equal(message.flags, 0x0305);
    assert.ok(message.service !== undefined && 'address' in message.service);
    assert.deepEqual([message.service.protocol, message.service.address, message.service.port], ['tcp', '10.103.97.2', 6443]);
  });

  it('an IPv6 destination in an IPv4 service carries ADDR_FAMILY and decodes as IPv6 (tunnel)', () => {
    const key = checkServiceKey('test', { protocol: 'tcp', address: '10.0.0.1', port: 80 });
    const tunnel = checkDestSpec('test', key, { address: '2001:db8::5', port: 80, forward: 'tunnel' });
    const message = decodeIpvsMessage(sent(encodeNewDest(key, tunnel)));
    assert.equal(message.destination?.family, 'ipv6');
    assert.equal(message.destination?.address, '2001:db8::5');
  });

  it('SET_CONFIG carries only the timeouts given', () => {
    assert.deepEqual(decodeIpvsMessage(sent(encodeSetConfig({ tcpFin: 30 }))).timeouts, { tcpFin: 30 });
  });
});

function someStatsZero(): ReturnType<typeof someStats> {
  return { conns: 0, inPackets: 0, outPackets: 0, inBytes: 0, outBytes: 0, cps: 0, inPps: 0, outPps: 0, inBps: 0, outBps: 0 };
}

describe('ACK and error payloads', () => {
  const header = (buf: Buffer): MessageHeader => ({
    offset: 0,
    length: buf.readUInt32LE(0),
    type: buf.readUInt16LE(4),
    flags: buf.readUInt16LE(6),
    seq: buf.readUInt32LE(8),
    pid: buf.readUInt32LE(12),
  });

  it('the documented success ACK for 6.2 decodes as errno 0', () => {
    const ack = fromHex('24000000 0200 0001 01000000 192e0000 00000000 5c000000 24000500 01000000 00000000');
    assert.equal(header(ack).type, NLMSG.ERROR);
    assert.deepEqual(decodeErrorPayload(ack, header(ack)), { errno: 0, extAck: undefined });
  });

  it('an uncapped EEXIST error echoing the whole 92-byte request', () => {
    const request = sent(encodeNewService(checkServiceSpec('t', { protocol: 'tcp', address: '10.103.97.2', port: 6443 })), 1);
    const error = Buffer.concat([fromHex('70000000 0200 0000 01000000 192e0000 efffffff'), request]);
    assert.equal(error.length, 112);
    assert.deepEqual(decodeErrorPayload(error, header(error)), { errno: 17, extAck: undefined });
  });

  it('a capped EINVAL with extended-ACK TLVs (message, offset, policy) as in section 1.7', () => {
    const w = new PayloadWriter();
    const body = Buffer.alloc(20);
    body.writeInt32LE(-22, 0);
    fromHex('20000000 10000500 01000000 00000000').copy(body, 4);
    w.raw(body).string(1, 'Attribute failed policy validation').u32(2, 20);
    const policy = w.beginNest(0x8004);
    w.u32(7, 15).u32(1, 12);
    w.endNest(policy);
    const error = kernelMessage(NLMSG.ERROR, 0x300, w, 1, 0x2e19);
    assert.equal(error.length, 104);
    assert.deepEqual(decodeErrorPayload(error, header(error)), {
      errno: 22,
      extAck: { message: 'Attribute failed policy validation', offset: 20 },
    });
  });
});

describe('malformed messages give typed errors', () => {
  const service = ipv4ServiceMessage([10, 0, 0, 1]);

  it('truncated message', () => assertMalformed(() => decodeServiceMessage(service.subarray(0, 100), whole(service.subarray(0, 100))), /overruns/));
  it('wrong command', () => {
    const other = Buffer.from(service);
    other[16] = 5;
    assertMalformed(() => decodeServiceMessage(other, whole(other)), /expected genl command 1/);
  });
  it('unknown protocol number', () => {
    const other = Buffer.from(service);
    other.writeUInt16LE(99, 20 + 4 + 8 + 4); // PROTOCOL payload
    assertMalformed(() => decodeServiceMessage(other, whole(other)), /unsupported service protocol 99/);
  });
  it('message length beyond the datagram', () => {
    const other = Buffer.from(service);
    other.writeUInt32LE(4096, 0);
    assertMalformed(() => forEachMessage(other, other.length, () => true), /does not fit/);
  });
  it('missing identity attributes', () => {
    const empty = new PayloadWriter().raw(Uint8Array.of(1, 1, 0, 0));
    empty.endNest(empty.beginNest(1));
    const bytes = kernelMessage(FAMILY_ID, 0, empty);
    assertMalformed(() => decodeServiceMessage(bytes, whole(bytes)), /attribute 1 is missing/);
  });
});
