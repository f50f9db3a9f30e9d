// The decoders face bytes from the kernel, and in principle from anything that can reach the
// socket. 100,000 random and mutated messages must produce either a value or an IpvsError,
// never another exception and never a hang. Seeded: set IPVS_FUZZ_SEED to replay a failure.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { IpvsError } from '../src/errors.ts';
import { decodeDestinationMessage, decodeServiceMessage } from '../src/ipvs-codec.ts';
import { checkDestSpec, checkServiceSpec } from '../src/ipvs-wire.ts';
import { NLMSG } from '../src/kernel-constants.ts';
import { decodeErrorPayload, forEachMessage, frameRequest } from '../src/nlmsg.ts';
import { decodeAddress, decodeLink, decodeRoute } from '../src/rtnetlink-codec.ts';
import { decodeIpvsMessage } from './ipvs-message.ts';
import { doneMessage, inetUnion, kernelDestMessage, kernelServiceMessage, someStats } from './kernel-shaped.ts';
import { libipvsNewDest, libipvsNewService } from './libipvs.ts';

/** mulberry32: small, fast, good enough to explore byte patterns reproducibly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seeds(): Buffer[] {
  const service = checkServiceSpec('fuzz', { protocol: 'tcp', address: '2001:db8::1', port: 443, persistent: true, netmask: 64 });
  const dest = checkDestSpec('fuzz', service, { address: '2001:db8::2', port: 443, weight: 5 });
  return [
    kernelServiceMessage({
      af: 2,
      protocol: 6,
      addr: inetUnion([10, 103, 97, 2]),
      port: 6443,
      scheduler: 'rr',
      flags: 2,
      timeout: 0,
      netmask: Buffer.from('ffffffff', 'hex'),
      stats: someStats(1),
      stats64: someStats(2),
    }),
    kernelDestMessage({
      addr: inetUnion([192, 168, 0, 10]),
      port: 6443,
      forward: 0,
      weight: 1,
      upperThreshold: 0,
      lowerThreshold: 0,
      activeConns: 1,
      inactiveConns: 2,
      persistConns: 3,
      af: 2,
      stats: someStats(3),
      stats64: someStats(4),
    }),
    frameRequest(0, libipvsNewService(service), 0),
    frameRequest(0, libipvsNewDest(service, dest), 0),
    doneMessage(),
  ];
}

function mutate(random: () => number, original: Buffer): Buffer {
  const pick = (n: number): number => Math.floor(random() * n);
  let bytes = Buffer.from(original);
  const edits = 1 + pick(4);
  for (let i = 0; i < edits; i++) {
    switch (pick(6)) {
      case 0: // flip a byte
        bytes[pick(bytes.length)] = pick(256);
        break;
      case 1: // truncate
        bytes = bytes.subarray(0, pick(bytes.length + 1));
        break;
      case 2: {
        // corrupt a 16-bit length field at an aligned offset (nlmsg_len or nla_len)
        const at = pick(Math.max(1, bytes.length >> 2)) * 4;
        if (at + 2 <= bytes.length) bytes.writeUInt16LE(pick(0x10000), at);
        break;
      }
      case 3: // append junk
        bytes = Buffer.concat([bytes, Buffer.from(Array.from({ length: pick(40) }, () => pick(256)))]);
        break;
      case 4: {
        // duplicate a slice somewhere else
        const from = pick(bytes.length + 1);
        const to = from + pick(bytes.length - from + 1);
        const at = pick(bytes.length + 1);
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(from, to), bytes.subarray(at)]);
        break;
      }
      default: // set nlmsg_len to the real length so the inner layers get exercised
        if (bytes.length >= 4) bytes.writeUInt32LE(bytes.length, 0);
    }
  }
  return bytes;
}

function randomMessage(random: () => number): Buffer {
  const length = Math.floor(random() * 400);
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256);
  if (length >= 4 && random() < 0.7) bytes.writeUInt32LE(length, 0);
  return bytes;
}

/** Every decoder that can see this datagram. Anything but IpvsError escapes and fails the test. */
function decodeEverything(datagram: Buffer): void {
  const attempt = (fn: () => unknown): void => {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof IpvsError)) throw err;
    }
  };
  attempt(() =>
    forEachMessage(datagram, datagram.length, (header) => {
      attempt(() => (header.type === NLMSG.ERROR || header.type === NLMSG.DONE ? decodeErrorPayload(datagram, header) : undefined));
      attempt(() => decodeServiceMessage(datagram, header));
      attempt(() => decodeDestinationMessage(datagram, header));
      attempt(() => decodeIpvsMessage(datagram, header));
      attempt(() => decodeRoute(datagram, header));
      attempt(() => decodeLink(datagram, header));
      attempt(() => decodeAddress(datagram, header));
      return true;
    }),
  );
  const whole = { offset: 0, length: datagram.length };
  attempt(() => decodeIpvsMessage(datagram, whole));
  attempt(() => decodeServiceMessage(datagram, whole));
  attempt(() => decodeDestinationMessage(datagram, whole, 'ipv6'));
}

it('100,000 random and mutated messages decode or fail with IpvsError only', () => {
  const seed = Number(process.env['IPVS_FUZZ_SEED'] ?? Math.floor(Math.random() * 2 ** 32));
  const random = prng(seed);
  const corpus = seeds();
  let typedFailures = 0;
  let decoded = 0;
  for (let i = 0; i < 100_000; i++) {
    const datagram = i % 4 === 0 ? randomMessage(random) : mutate(random, corpus[i % corpus.length] as Buffer);
    try {
      decodeEverything(datagram);
      // Count whole-message outcomes too, so the run demonstrably reaches both paths.
      decodeIpvsMessage(datagram, { offset: 0, length: datagram.length });
      decoded++;
    } catch (err) {
      if (!(err instanceof IpvsError)) {
        assert.fail(`seed ${seed}, message ${i} (${datagram.toString('hex')}): ${err instanceof Error ? err.stack : String(err)}`);
      }
      typedFailures++;
    }
  }
  console.log(`fuzz seed ${seed}: ${decoded} decoded, ${typedFailures} typed failures`);
  assert.ok(decoded > 1000, `seed ${seed}: only ${decoded} messages decoded; the mutations are too destructive to test decoding`);
  assert.ok(typedFailures > 1000, `seed ${seed}: only ${typedFailures} typed failures; the fuzzer is not reaching error paths`);
});
