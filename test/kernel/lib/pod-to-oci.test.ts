// The kubelet stand-in of the container test (pod-to-oci.ts), on the host: what it makes of the
// manifest `lvscare static-pod` writes, and that it refuses what it does not model.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseYamlDocuments, toKubernetesYaml } from '@lvscare/contracts/yaml';
import { renderLvscareStaticPod } from '@lvscare/lvscare/static-pod';
import { ociSpecForPod, parseStaticPod } from './pod-to-oci.ts';

const node = { netnsPath: '/run/netns/worker', hostsFile: '/tmp/hosts', capLastCap: 40 };
const image = { env: ['PATH=/usr/sbin:/usr/bin'], cwd: '/' };

function manifest(change: (pod: { spec: Record<string, unknown> & { containers: Array<Record<string, unknown>> } }) => void = () => undefined): string {
  const yaml = renderLvscareStaticPod({ vip: '10.103.97.2:6443', masters: ['10.0.0.1:6443', '10.0.0.2:6443'], image: 'localhost/lvscare:0.1.0' });
  const [pod] = parseYamlDocuments(yaml).values as Array<{ spec: Record<string, unknown> & { containers: Array<Record<string, unknown>> } }>;
  assert.ok(pod);
  change(pod);
  return toKubernetesYaml(pod);
}

test('the static pod becomes a privileged container in the node network namespace, /lib/modules read-only, a tmpfs /tmp', () => {
  const spec = ociSpecForPod(parseStaticPod(manifest()), image, node, '/rootfs', '/test/lvscare');
  assert.deepEqual(spec.process.args, ['/usr/bin/lvscare', 'care', '--vs', '10.103.97.2:6443', '--health-path', '/healthz', '--health-schem', 'https', '--rs', '10.0.0.1:6443', '--rs', '10.0.0.2:6443']);
  assert.deepEqual(spec.process.env, ['PATH=/usr/sbin:/usr/bin', 'NODE_OPTIONS=--max-old-space-size=64 --max-semi-space-size=1 --jitless', 'LVSCARE_TMPDIR=/tmp']);
  assert.equal(spec.process.capabilities.effective.length, 41);
  assert.ok(spec.process.capabilities.effective.includes('CAP_SYS_MODULE'));
  assert.equal(spec.process.oomScoreAdj, -997);
  assert.deepEqual(spec.linux.namespaces, [{ type: 'pid' }, { type: 'ipc' }, { type: 'mount' }, { type: 'cgroup' }, { type: 'network', path: '/run/netns/worker' }]);
  assert.deepEqual(spec.linux.maskedPaths, []);
  assert.deepEqual(spec.linux.resources.memory, { limit: 256 * 2 ** 20 });
  assert.deepEqual(spec.linux.resources.cpu, { shares: 20 });
  const mount = (destination: string) => spec.mounts.find((m) => m.destination === destination);
  assert.deepEqual(mount('/lib/modules'), { destination: '/lib/modules', type: 'bind', source: '/lib/modules', options: ['rbind', 'rprivate', 'ro'] });
  assert.deepEqual(mount('/tmp'), { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['rw', 'mode=1777', `size=${16 * 2 ** 20}`] });
  assert.deepEqual(mount('/etc/hosts')?.source, '/tmp/hosts');
  assert.ok(!mount('/sys')?.options.includes('ro'), '/sys is writable when privileged');
  assert.equal(spec.root.readonly, true, 'readOnlyRootFilesystem: the daemon writes only to its tmpfs /tmp');
});

test('dropping ALL and adding NET_ADMIN leaves one capability, with /proc/sys read-only and no privilege escalation', () => {
  const yaml = manifest((pod) => {
    pod.spec.containers[0]!['securityContext'] = { allowPrivilegeEscalation: false, capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] }, readOnlyRootFilesystem: true };
  });
  const spec = ociSpecForPod(parseStaticPod(yaml), image, node, '/rootfs', '/test/lvscare');
  assert.deepEqual(spec.process.capabilities, { bounding: ['CAP_NET_ADMIN'], effective: ['CAP_NET_ADMIN'], permitted: ['CAP_NET_ADMIN'] });
  assert.equal(spec.process.noNewPrivileges, true);
  assert.equal(spec.root.readonly, true);
  assert.ok(spec.linux.readonlyPaths.includes('/proc/sys'));
  assert.ok(spec.mounts.find((m) => m.destination === '/sys')?.options.includes('ro'));
});

test('what the stand-in does not model is refused, not ignored', () => {
  assert.throws(() => parseStaticPod(manifest((pod) => (pod.spec['hostPID'] = true))), /spec: fields this kubelet stand-in does not model: hostPID/);
  assert.throws(
    () => parseStaticPod(manifest((pod) => (pod.spec.containers[0]!['securityContext'] = { privileged: true, runAsUser: 1000 }))),
    /securityContext: fields this kubelet stand-in does not model: runAsUser/,
  );
  const typo = parseStaticPod(manifest((pod) => (pod.spec.containers[0]!['securityContext'] = { capabilities: { add: ['NET_ADMN'] } })));
  assert.throws(() => ociSpecForPod(typo, image, node, '/rootfs', '/test/lvscare'), /unknown capability NET_ADMN/);
});
