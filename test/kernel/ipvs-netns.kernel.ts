// IpvsClient.open({ netns }) manages the IPVS table of another network namespace: two
// namespaces stay isolated from each other and from the namespace the test runs in.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { IpvsClient, type ServiceKey } from '@lvscare/ipvs-native';
import { createNetns, type Netns } from '../harness/netns.ts';

const key = (address: string): ServiceKey => ({ protocol: 'tcp', address, port: 6443 });
let red: Netns;
let blue: Netns;

before(async () => {
  red = await createNetns('ipvs-red');
  blue = await createNetns('ipvs-blue');
});
after(async () => {
  await red.delete();
  await blue.delete();
});

async function ipvsadmSave(netns: Netns): Promise<string> {
  return (await netns.exec(['ipvsadm', '-S', '-n'])).stdout;
}

it('each client sees and changes only its own namespace', async () => {
  const own = IpvsClient.open();
  const inRed = IpvsClient.open({ netns: red.name });
  const inBlue = IpvsClient.open({ netns: blue.name });
  try {
    inRed.addService(key('10.0.0.1'));
    inRed.addDestination(key('10.0.0.1'), { address: '10.1.0.1', port: 6443 });
    inBlue.addService(key('10.0.0.2'));
    inBlue.addService(key('10.0.0.1')); // the same identity as red's: no conflict across namespaces

    assert.deepEqual(inRed.listServices().map((s) => ('address' in s ? s.address : s.fwmark)), ['10.0.0.1']);
    assert.deepEqual(inBlue.listServices().map((s) => ('address' in s ? s.address : s.fwmark)).sort(), ['10.0.0.1', '10.0.0.2']);
    assert.deepEqual(own.listServices(), []);
    assert.equal(inRed.listDestinations(key('10.0.0.1')).length, 1);
    assert.equal(inBlue.listDestinations(key('10.0.0.1')).length, 0);

    // ipvsadm inside each namespace agrees.
    assert.equal(await ipvsadmSave(red), '-A -t 10.0.0.1:6443 -s rr\n-a -t 10.0.0.1:6443 -r 10.1.0.1:6443 -m -w 1\n');
    assert.match(await ipvsadmSave(blue), /-A -t 10\.0\.0\.2:6443 -s rr/);

    inBlue.flush();
    assert.deepEqual(inBlue.listServices(), []);
    assert.equal(inRed.listServices().length, 1, 'flushing blue leaves red alone');
  } finally {
    own.close();
    inRed.close();
    inBlue.close();
  }
});

it('a client keeps working in its namespace after other namespaces are entered and left', () => {
  const inRed = IpvsClient.open({ netns: red.name });
  try {
    const inBlue = IpvsClient.open({ netns: blue.name });
    inBlue.close();
    inRed.addService(key('10.0.0.9'));
    assert.ok(inRed.getService(key('10.0.0.9')));
    assert.equal(IpvsClient.open().getService(key('10.0.0.9')), undefined);
  } finally {
    inRed.close();
  }
});

it('a missing namespace is a clear error', () => {
  assert.throws(() => IpvsClient.open({ netns: 'no-such-namespace' }), { kind: 'syscall', code: 'ENOENT' });
});
