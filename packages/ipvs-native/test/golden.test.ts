// Byte-exact request encodings: the golden vectors of /work/shared/docs/ipvs-netlink.md
// section 6 (moby/ipvs and libipvs, family id 0x24, LE host), reproduced from public inputs
// through the same validation, encoding and framing (frameRequest, as NetlinkSocket sends) the
// client uses. The libipvs layout comes from the test's own encoder (./libipvs.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeGetFamily } from '../src/genl.ts';
import { encodeFlush, encodeGetDests, encodeGetServices, encodeNewDest, encodeNewService } from '../src/ipvs-codec.ts';
import { checkDestSpec, checkServiceKey, checkServiceSpec } from '../src/ipvs-wire.ts';
import { GENL_ID_CTRL } from '../src/kernel-constants.ts';
import { frameRequest, type NetlinkRequest } from '../src/nlmsg.ts';
import { libipvsGetDests, libipvsGetServices, libipvsNewDest, libipvsNewService } from './libipvs.ts';

const hex = (text: string): string => text.replace(/\s+/g, '').toLowerCase();

const vip = { protocol: 'tcp', address: '10.103.97.2', port: 6443 } as const;
const master = { address: '192.168.0.10', port: 6443 };
const service = checkServiceSpec('test', { ...vip, scheduler: 'rr' });
const dest = checkDestSpec('test', service, { ...master, weight: 1, forward: 'masq' });
/** The request as sent to IPVS family id 0x24 with sequence number `seq`. */
const sent = (request: NetlinkRequest, seq: number): Buffer => frameRequest(0x24, request, seq);

const mobyServiceNest = `48000100 06000100 02000000 06000200 06000000 08000300 0a676102 06000400 192b0000
  07000600 72720000 0c000700 00000000 ffffffff 08000800 00000000 08000900 ffffffff`;
const libipvsServiceNest = `54000180 06000100 02000000 06000200 06000000 14000300 0a676102 00000000 00000000 00000000
  06000400 192b0000 07000600 72720000 0c000700 00000000 ffffffff 08000800 00000000 08000900 ffffffff`;

describe('golden vectors (ipvs-netlink.md section 6)', () => {
  it('2: CTRL_CMD_GETFAMILY "IPVS", 32 bytes', () => {
    assert.equal(
      frameRequest(GENL_ID_CTRL, encodeGetFamily('IPVS'), 1).toString('hex'),
      hex('20000000 10000500 01000000 00000000 03010000 09000200 49505653 00000000'),
    );
  });

  it('6.2: moby NEW_SERVICE, 92 bytes', () => {
    const bytes = sent(encodeNewService(service), 1);
    assert.equal(bytes.length, 92);
    assert.equal(bytes.toString('hex'), hex(`5c000000 2400 0500 01000000 00000000 01010000 ${mobyServiceNest}`));
  });

  it('6.3: moby NEW_DEST, 144 bytes', () => {
    const bytes = sent(encodeNewDest(service, dest), 2);
    assert.equal(bytes.length, 144);
    assert.equal(
      bytes.toString('hex'),
      hex(`90000000 2400 0500 02000000 00000000 05010000 ${mobyServiceNest}
        34000200 08000100 c0a8000a 06000200 192b0000 08000300 00000000 08000400 01000000
        08000500 00000000 08000600 00000000`),
    );
  });

  it('6.4: libipvs NEW_SERVICE, 104 bytes', () => {
    const bytes = sent(libipvsNewService(service), 1);
    assert.equal(bytes.length, 104);
    assert.equal(bytes.toString('hex'), hex(`68000000 2400 0500 01000000 00000000 01010000 ${libipvsServiceNest}`));
  });

  it('6.5: libipvs NEW_DEST, 200 bytes', () => {
    const bytes = sent(libipvsNewDest(service, dest), 2);
    assert.equal(bytes.length, 200);
    assert.equal(
      bytes.toString('hex'),
      hex(`c8000000 2400 0500 02000000 00000000 05010000 ${libipvsServiceNest}
        60000280 06000b00 02000000 14000100 c0a8000a 00000000 00000000 00000000
        06000200 192b0000 08000300 00000000 08000400 01000000 05000d00 00000000
        06000e00 00000000 06000f00 00000000 08000500 00000000 08000600 00000000`),
    );
  });

  it('6.6: moby GET_SERVICE dump, 24 bytes, empty SERVICE nest', () => {
    assert.equal(sent(encodeGetServices(), 3).toString('hex'), hex('18000000 2400 0503 03000000 00000000 04010000 04000100'));
  });

  it('6.6: libipvs GET_SERVICE dump, 20 bytes', () => {
    assert.equal(sent(libipvsGetServices(), 3).toString('hex'), hex('14000000 2400 0503 03000000 00000000 04010000'));
  });

  it('6.6: libipvs GET_DEST dump, 68 bytes, identity-only service nest', () => {
    const key = checkServiceKey('test', vip);
    assert.equal(
      sent(libipvsGetDests(key), 3).toString('hex'),
      hex(`44000000 2400 0503 03000000 00000000 08010000 30000180
        06000100 02000000 06000200 06000000 14000300 0a676102 00000000 00000000 00000000 06000400 192b0000`),
    );
  });

  it('6.6: moby GET_DEST dump = the 6.2 message with cmd 8 and flags 0x0305', () => {
    assert.equal(
      sent(encodeGetDests(service), 1).toString('hex'),
      hex(`5c000000 2400 0503 01000000 00000000 08010000 ${mobyServiceNest}`),
    );
  });

  it('6.6: FLUSH, 20 bytes', () => {
    assert.equal(sent(encodeFlush(), 7).toString('hex'), hex('14000000 2400 0500 07000000 00000000 11010000'));
  });

  // libipvs flags the nest NLA_F_NESTED (0x8001); the client, like moby, does not (0x0001).
  const ipv6Layouts = [
    ['libipvs layout', libipvsNewService, '54000180'],
    ['moby layout, as the client sends it', encodeNewService, '54000100'],
  ] as const;
  for (const [layout, encode, nestHeader] of ipv6Layouts) {
    it(`6.6: IPv6 service nest [2001:db8::1]:443 (${layout})`, () => {
      const v6 = checkServiceSpec('test', { protocol: 'tcp', address: '2001:db8::1', port: 443, scheduler: 'rr' });
      const nest = sent(encode(v6), 1).subarray(20);
      assert.equal(
        nest.toString('hex'),
        hex(`${nestHeader} 06000100 0a000000 06000200 06000000
          14000300 20010db8 00000000 00000000 00000001 06000400 01bb0000
          07000600 72720000 0c000700 00000000 ffffffff 08000800 00000000 08000900 80000000`),
      );
    });
  }

  it('6.6: fwmark service nest (fwmark 100) is 56 bytes without PROTOCOL/ADDR/PORT', () => {
    const fwm = checkServiceSpec('test', { fwmark: 100, family: 'ipv4', scheduler: 'rr' });
    const nest = sent(encodeNewService(fwm), 1).subarray(20);
    assert.equal(
      nest.toString('hex'),
      hex(`38000100 06000100 02000000 08000500 64000000 07000600 72720000
        0c000700 00000000 ffffffff 08000800 00000000 08000900 ffffffff`),
    );
  });

  it('6.6: persistent service (ClientIP affinity 10800 s) flags and timeout', () => {
    const sticky = checkServiceSpec('test', { ...vip, scheduler: 'rr', persistent: true, timeout: 10800 });
    const bytes = sent(encodeNewService(sticky), 1).toString('hex');
    assert.ok(bytes.includes(hex('0c000700 01000000 ffffffff 08000800 302a0000')), bytes);
  });
});
