// Address parsing/formatting and input validation: what the client refuses before sending.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IpvsError } from '../src/errors.ts';
import { canonicalAddress, parseAddress, parsePrefix } from '../src/inet.ts';
import { checkDestSpec, checkServiceKey, checkServiceSpec, checkTimeouts } from '../src/ipvs-wire.ts';

function rejects(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof IpvsError, String(err));
    assert.equal(err.kind, 'invalid-input');
    assert.equal(err.code, 'EINVAL');
    assert.match(err.message, pattern);
    return true;
  });
}

describe('addresses', () => {
  it('formats IPv6 in RFC 5952 canonical form', () => {
    const cases: Array<[string, string]> = [
      ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['0:0:0:0:0:0:0:0', '::'],
      ['::1', '::1'],
      ['fe80::', 'fe80::'],
      ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
      ['::ffff:10.1.2.3', '::ffff:10.1.2.3'],
      ['::ffff:a01:203', '::ffff:10.1.2.3'],
      ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ];
    for (const [input, canonical] of cases) assert.equal(canonicalAddress(input), canonical, input);
  });

  it('rejects malformed addresses', () => {
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '01.2.3.4', '256.1.1.1', '1.2.3.4 ', '::1::', '1:2:3:4:5:6:7:8:9', 'fe80::1%eth0', 'g::1', '1.2.3.4::', ':1::', '12345::', '1:2:3:4:5:6:7:1.2.3.4']) {
      assert.equal(parseAddress(bad), undefined, bad);
    }
  });

  it('parses prefixes; a bare address is a host prefix', () => {
    assert.equal(parsePrefix('10.0.0.0/8')?.prefixLength, 8);
    assert.equal(parsePrefix('10.1.2.3')?.prefixLength, 32);
    assert.equal(parsePrefix('fd00::1')?.prefixLength, 128);
    assert.equal(parsePrefix('10.0.0.0/33'), undefined);
    assert.equal(parsePrefix('10.0.0.0/08'), undefined);
  });
});

describe('service and destination validation', () => {
  const vip = { protocol: 'tcp', address: '10.103.97.2', port: 6443 } as const;
  const key = checkServiceKey('t', vip);

  it('accepts and normalizes a valid spec with defaults (rr, /32, not persistent)', () => {
    const wire = checkServiceSpec('t', vip);
    assert.equal(wire.scheduler, 'rr');
    assert.equal(wire.netmask, 0xffffffff);
    assert.equal(wire.flags, 0);
    assert.equal(wire.label, 'TCP 10.103.97.2:6443');
    const sticky = checkServiceSpec('t', { ...vip, persistent: true, netmask: 24 });
    assert.equal(sticky.timeout, 360);
    assert.equal(sticky.netmask, Buffer.from([255, 255, 255, 0]).readUInt32LE(0));
    assert.equal(checkServiceSpec('t', { ...vip, persistent: true, netmask: '255.255.0.0' }).netmask, Buffer.from([255, 255, 0, 0]).readUInt32LE(0));
    assert.equal(checkServiceSpec('t', { protocol: 'udp', address: 'fd00::1', port: 53 }).netmask, 128);
  });

  it('rejects bad service input with clear messages', () => {
    rejects(() => checkServiceKey('IPVS_CMD_NEW_SERVICE', { ...vip, protocol: 'icmp' as 'tcp' }), /protocol must be "tcp", "udp" or "sctp"/);
    rejects(() => checkServiceKey('t', { ...vip, address: '10.103.97' }), /is not an IPv4 or IPv6 address/);
    rejects(() => checkServiceKey('t', { ...vip, port: 65536 }), /service port must be an integer from 0 to 65535/);
    rejects(() => checkServiceKey('t', { ...vip, port: 1.5 }), /service port/);
    rejects(() => checkServiceKey('t', { fwmark: 0, family: 'ipv4' }), /fwmark must be an integer from 1/);
    rejects(() => checkServiceKey('t', { fwmark: 7, family: 'inet' as 'ipv4' }), /family must be "ipv4" or "ipv6"/);
    rejects(() => checkServiceSpec('t', { ...vip, scheduler: 'a-very-long-scheduler' }), /scheduler must be 1-15/);
    rejects(() => checkServiceSpec('t', { ...vip, scheduler: 'rr;rm' }), /scheduler/);
    rejects(() => checkServiceSpec('t', { ...vip, timeout: 60 }), /needs persistent: true/);
    rejects(() => checkServiceSpec('t', { ...vip, persistent: true, timeout: 86400 * 32 }), /persistence timeout/);
    rejects(() => checkServiceSpec('t', { ...vip, netmask: 24 }), /needs persistent: true/);
    rejects(() => checkServiceSpec('t', { ...vip, persistent: true, netmask: 'fd00::' }), /IPv4 netmask/);
    rejects(() => checkServiceSpec('t', { protocol: 'tcp', address: 'fd00::1', port: 1, persistent: true, netmask: 0 }), /IPv6 netmask/);
    rejects(() => checkServiceSpec('t', null), /service key object is required/);
  });

  it('rejects bad destination input with clear messages', () => {
    rejects(() => checkDestSpec('t', key, { address: 'x', port: 1 }), /destination address "x"/);
    rejects(() => checkDestSpec('t', key, { address: '10.0.0.1', port: -1 }), /destination port/);
    rejects(() => checkDestSpec('t', key, { address: '10.0.0.1', port: 1, weight: 65536 }), /weight must be an integer from 0 to 65535/);
    rejects(() => checkDestSpec('t', key, { address: '10.0.0.1', port: 1, forward: 'nat' as 'masq' }), /forward must be/);
    rejects(() => checkDestSpec('t', key, { address: '10.0.0.1', port: 1, upperThreshold: 2 ** 31 }), /upperThreshold/);
    rejects(() => checkDestSpec('t', key, { address: '10.0.0.1', port: 1, upperThreshold: 5, lowerThreshold: 6 }), /must not exceed upperThreshold/);
    rejects(() => checkDestSpec('t', key, { address: 'fd00::1', port: 1 }), /needs forward: "tunnel"/);
    const tunnel = checkDestSpec('t', key, { address: 'fd00::1', port: 1, forward: 'tunnel' });
    assert.equal(tunnel.family, 'ipv6');
  });

  it('timeouts: 0 cannot be set (the kernel reads it as "keep"), unknown names refused', () => {
    assert.deepEqual(checkTimeouts('t', { tcp: 900, udp: 60 }), { tcp: 900, udp: 60 });
    rejects(() => checkTimeouts('t', { tcp: 0 }), /omit it to keep the current value/);
    rejects(() => checkTimeouts('t', { tcpFin: 3_000_000 }), /tcpFin timeout/);
    rejects(() => checkTimeouts('t', { sctp: 5 }), /unknown timeout "sctp"/);
  });
});
