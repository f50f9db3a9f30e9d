// What kubelet and containerd's CRI plugin make of a static pod: the OCI runtime spec (config.json)
// that runc or crun then runs. A stand-in for that boundary (no kubelet or containerd runs here),
// so it is strict: it knows the fields our static pod manifest uses and refuses any other, rather
// than silently running something the manifest does not say.
//
// Modelled on containerd 1.6/1.7's defaults: its default mounts, capabilities, masked and read-only
// /proc paths; privileged = every capability, no masked paths, rw /sys; hostNetwork = the node's
// network and UTS namespaces and the node's hosts file at /etc/hosts; hostPath = rbind;
// emptyDir (medium Memory) = tmpfs of sizeLimit; the memory limit and the CPU request as cgroup
// settings; system-node-critical = oom_score_adj -997. Left out because the daemon reads none of
// them: /etc/resolv.conf, /etc/hostname, /dev/termination-log, service environment variables, the
// host's device nodes for privileged pods, seccomp (kubelet's default is Unconfined).
import { parseYamlDocuments } from '@lvscare/contracts/yaml';

export interface PodEnvVar {
  name: string;
  value: string;
}

export interface PodCapabilities {
  add: string[];
  drop: string[];
}

export interface PodSecurityContext {
  privileged: boolean;
  allowPrivilegeEscalation: boolean | undefined;
  readOnlyRootFilesystem: boolean;
  capabilities: PodCapabilities | undefined;
}

export type PodVolume =
  | { name: string; kind: 'hostPath'; path: string }
  | { name: string; kind: 'emptyDir'; medium: 'Memory' | ''; sizeLimit: string | undefined };

export interface PodVolumeMount {
  name: string;
  mountPath: string;
  readOnly: boolean;
}

export interface StaticPod {
  name: string;
  namespace: string;
  hostNetwork: boolean;
  priorityClassName: string | undefined;
  image: string;
  command: string[];
  args: string[];
  env: PodEnvVar[];
  securityContext: PodSecurityContext;
  volumeMounts: PodVolumeMount[];
  volumes: PodVolume[];
  memoryLimitBytes: number | undefined;
  cpuRequestMillis: number | undefined;
}

type Json = Record<string, unknown>;

function object(value: unknown, where: string, allowed: readonly string[]): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${where}: expected a mapping`);
  const unknown = Object.keys(value).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) throw new Error(`${where}: fields this kubelet stand-in does not model: ${unknown.join(', ')}`);
  return value as Json;
}

function string(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new Error(`${where}: expected a string`);
  return value;
}

function optionalString(value: unknown, where: string): string | undefined {
  return value === undefined ? undefined : string(value, where);
}

function optionalBoolean(value: unknown, where: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new Error(`${where}: expected true or false`);
  return value;
}

function list(value: unknown, where: string): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new Error(`${where}: expected a list`);
  return value;
}

function strings(value: unknown, where: string): string[] {
  return list(value, where).map((item, index) => string(item, `${where}[${index}]`));
}

/** Kubernetes quantities as the manifest writes them: 256Mi, 16Mi, 1Gi, 20m, 1. */
export function parseQuantityBytes(text: string, where: string): number {
  const match = /^(\d+)(Ki|Mi|Gi)?$/.exec(text);
  if (!match) throw new Error(`${where}: ${JSON.stringify(text)} is not a quantity this stand-in understands (N, NKi, NMi, NGi)`);
  const scale = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }[match[2] as 'Ki' | 'Mi' | 'Gi'] ?? 1;
  return Number(match[1]) * scale;
}

function parseCpuMillis(text: string, where: string): number {
  const match = /^(\d+)(m)?$/.exec(text);
  if (!match) throw new Error(`${where}: ${JSON.stringify(text)} is not a CPU quantity (N or Nm)`);
  return match[2] === 'm' ? Number(match[1]) : Number(match[1]) * 1000;
}

/** Reads a static pod manifest (one document, one container) the way the kubelet would, refusing what it cannot model. */
export function parseStaticPod(yamlText: string): StaticPod {
  const { values, errors } = parseYamlDocuments(yamlText);
  if (errors.length > 0) throw new Error(`static pod: ${errors.join('; ')}`);
  if (values.length !== 1) throw new Error(`static pod: expected one YAML document, got ${values.length}`);
  const pod = object(values[0], 'pod', ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
  if (pod['apiVersion'] !== 'v1' || pod['kind'] !== 'Pod') throw new Error('pod: expected apiVersion v1, kind Pod');
  const metadata = object(pod['metadata'], 'metadata', ['creationTimestamp', 'name', 'namespace', 'labels']);
  const spec = object(pod['spec'], 'spec', ['containers', 'hostNetwork', 'priorityClassName', 'volumes']);
  const containers = list(spec['containers'], 'spec.containers');
  if (containers.length !== 1) throw new Error(`spec.containers: expected one container, got ${containers.length}`);
  const c = object(containers[0], 'container', ['args', 'command', 'env', 'image', 'imagePullPolicy', 'livenessProbe', 'name', 'resources', 'securityContext', 'volumeMounts']);

  const env = list(c['env'], 'env').map((item, index) => {
    const entry = object(item, `env[${index}]`, ['name', 'value']);
    return { name: string(entry['name'], `env[${index}].name`), value: string(entry['value'], `env[${index}].value`) };
  });

  const security = object(c['securityContext'] ?? {}, 'securityContext', ['privileged', 'allowPrivilegeEscalation', 'readOnlyRootFilesystem', 'capabilities']);
  let capabilities: PodCapabilities | undefined;
  if (security['capabilities'] !== undefined) {
    const caps = object(security['capabilities'], 'securityContext.capabilities', ['add', 'drop']);
    capabilities = { add: strings(caps['add'], 'capabilities.add'), drop: strings(caps['drop'], 'capabilities.drop') };
  }
  const securityContext: PodSecurityContext = {
    privileged: optionalBoolean(security['privileged'], 'securityContext.privileged') ?? false,
    allowPrivilegeEscalation: optionalBoolean(security['allowPrivilegeEscalation'], 'securityContext.allowPrivilegeEscalation'),
    readOnlyRootFilesystem: optionalBoolean(security['readOnlyRootFilesystem'], 'securityContext.readOnlyRootFilesystem') ?? false,
    capabilities,
  };
  if (securityContext.privileged && capabilities !== undefined) throw new Error('securityContext: capabilities mean nothing next to privileged: true');

  const volumeMounts = list(c['volumeMounts'], 'volumeMounts').map((item, index) => {
    const mount = object(item, `volumeMounts[${index}]`, ['mountPath', 'name', 'readOnly']);
    return {
      name: string(mount['name'], `volumeMounts[${index}].name`),
      mountPath: string(mount['mountPath'], `volumeMounts[${index}].mountPath`),
      readOnly: optionalBoolean(mount['readOnly'], `volumeMounts[${index}].readOnly`) ?? false,
    };
  });
  const volumes: PodVolume[] = list(spec['volumes'], 'spec.volumes').map((item, index) => {
    const where = `volumes[${index}]`;
    const volume = object(item, where, ['name', 'hostPath', 'emptyDir']);
    const name = string(volume['name'], `${where}.name`);
    if (volume['hostPath'] !== undefined) {
      const hostPath = object(volume['hostPath'], `${where}.hostPath`, ['path', 'type']);
      const type = optionalString(hostPath['type'], `${where}.hostPath.type`) ?? '';
      if (type !== '' && type !== 'Directory') throw new Error(`${where}.hostPath.type: ${JSON.stringify(type)} is not modelled`);
      return { name, kind: 'hostPath', path: string(hostPath['path'], `${where}.hostPath.path`) };
    }
    if (volume['emptyDir'] !== undefined) {
      const emptyDir = object(volume['emptyDir'], `${where}.emptyDir`, ['medium', 'sizeLimit']);
      const medium = optionalString(emptyDir['medium'], `${where}.emptyDir.medium`) ?? '';
      if (medium !== 'Memory' && medium !== '') throw new Error(`${where}.emptyDir.medium: ${JSON.stringify(medium)} is not modelled`);
      return { name, kind: 'emptyDir', medium, sizeLimit: optionalString(emptyDir['sizeLimit'], `${where}.emptyDir.sizeLimit`) };
    }
    throw new Error(`${where}: neither hostPath nor emptyDir`);
  });
  for (const mount of volumeMounts) {
    if (!volumes.some((volume) => volume.name === mount.name)) throw new Error(`volumeMounts: no volume named ${mount.name}`);
  }

  const resources = object(c['resources'] ?? {}, 'resources', ['limits', 'requests']);
  const limits = object(resources['limits'] ?? {}, 'resources.limits', ['memory']);
  const requests = object(resources['requests'] ?? {}, 'resources.requests', ['cpu', 'memory']);
  const memoryLimit = optionalString(limits['memory'], 'resources.limits.memory');
  const cpuRequest = optionalString(requests['cpu'], 'resources.requests.cpu');

  return {
    name: string(metadata['name'], 'metadata.name'),
    namespace: string(metadata['namespace'], 'metadata.namespace'),
    hostNetwork: optionalBoolean(spec['hostNetwork'], 'spec.hostNetwork') ?? false,
    priorityClassName: optionalString(spec['priorityClassName'], 'spec.priorityClassName'),
    image: string(c['image'], 'image'),
    command: strings(c['command'], 'command'),
    args: strings(c['args'], 'args'),
    env,
    securityContext,
    volumeMounts,
    volumes,
    memoryLimitBytes: memoryLimit === undefined ? undefined : parseQuantityBytes(memoryLimit, 'resources.limits.memory'),
    cpuRequestMillis: cpuRequest === undefined ? undefined : parseCpuMillis(cpuRequest, 'resources.requests.cpu'),
  };
}

/** Linux capabilities by number (capability.h), the names runc and crun take. */
const CAPABILITY_NAMES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE',
  'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE',
  'AUDIT_CONTROL', 'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
] as const;

/** containerd's default set for a container that is not privileged, before the pod's add/drop. */
export const RUNTIME_DEFAULT_CAPABILITIES = [
  'CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE',
] as const;

const MASKED_PATHS = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats',
  '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** What the node contributes: where its network namespace and hosts file are, and what its kernel knows. */
export interface NodeContext {
  /** The node's network namespace (a path for `setns`); undefined = the runtime's own. */
  netnsPath: string | undefined;
  /** The node's /etc/hosts, which the kubelet copies into a hostNetwork pod. */
  hostsFile: string;
  /** /proc/sys/kernel/cap_last_cap of the node's kernel. */
  capLastCap: number;
}

/** The parts of the image's configuration a runtime spec takes (from umoci's generated config.json). */
export interface ImageConfig {
  env: string[];
  cwd: string;
}

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export interface OciSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: { bounding: string[]; effective: string[]; permitted: string[] };
    noNewPrivileges: boolean;
    oomScoreAdj?: number;
  };
  root: { path: string; readonly: boolean };
  mounts: OciMount[];
  linux: {
    namespaces: Array<{ type: string; path?: string }>;
    cgroupsPath: string;
    resources: { devices: Array<{ allow: boolean; access: string }>; memory?: { limit: number }; cpu?: { shares: number } };
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

function capabilitySet(pod: StaticPod, capLastCap: number): string[] {
  const known = CAPABILITY_NAMES.slice(0, capLastCap + 1);
  if (pod.securityContext.privileged) return known.map((name) => `CAP_${name}`);
  const caps = pod.securityContext.capabilities;
  const normal = (name: string): string => name.toUpperCase().replace(/^CAP_/, '');
  for (const name of [...(caps?.add ?? []), ...(caps?.drop ?? [])]) {
    if (name.toUpperCase() !== 'ALL' && !(CAPABILITY_NAMES as readonly string[]).includes(normal(name))) throw new Error(`capabilities: unknown capability ${name}`);
  }
  const drop = new Set((caps?.drop ?? []).map(normal));
  const kept = drop.has('ALL') ? [] : RUNTIME_DEFAULT_CAPABILITIES.filter((name) => !drop.has(name));
  const added = (caps?.add ?? []).map(normal).flatMap((name) => (name === 'ALL' ? known : [name]));
  return [...new Set([...kept, ...added])].map((name) => `CAP_${name}`);
}

function volumeMount(pod: StaticPod, mount: PodVolumeMount): OciMount {
  const volume = pod.volumes.find((v) => v.name === mount.name);
  if (volume === undefined) throw new Error(`no volume ${mount.name}`);
  if (volume.kind === 'hostPath') {
    return { destination: mount.mountPath, type: 'bind', source: volume.path, options: ['rbind', 'rprivate', mount.readOnly ? 'ro' : 'rw'] };
  }
  // The kubelet mounts a plain tmpfs (no noexec) and binds it in: exec is allowed, which is why the pod has it.
  const size = volume.sizeLimit === undefined ? [] : [`size=${parseQuantityBytes(volume.sizeLimit, `${volume.name}.sizeLimit`)}`];
  if (volume.medium !== 'Memory') throw new Error(`emptyDir ${volume.name}: only medium Memory is modelled (a node directory otherwise)`);
  return { destination: mount.mountPath, type: 'tmpfs', source: 'tmpfs', options: [mount.readOnly ? 'ro' : 'rw', 'mode=1777', ...size] };
}

/** The runtime spec containerd's CRI plugin would hand to runc for this pod's container. */
export function ociSpecForPod(pod: StaticPod, image: ImageConfig, node: NodeContext, rootfs: string, cgroupsPath: string): OciSpec {
  const privileged = pod.securityContext.privileged;
  const hardening = privileged ? [] : ['ro'];
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', ...hardening] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', ...hardening] },
  ];
  if (pod.hostNetwork) mounts.push({ destination: '/etc/hosts', type: 'bind', source: node.hostsFile, options: ['rbind', 'rprivate', 'rw'] });
  for (const mount of pod.volumeMounts) mounts.push(volumeMount(pod, mount));

  const namespaces: Array<{ type: string; path?: string }> = [{ type: 'pid' }, { type: 'ipc' }, { type: 'mount' }, { type: 'cgroup' }];
  if (!pod.hostNetwork) namespaces.push({ type: 'network' }, { type: 'uts' });
  else if (node.netnsPath !== undefined) namespaces.push({ type: 'network', path: node.netnsPath });

  const caps = capabilitySet(pod, node.capLastCap);
  const resources: OciSpec['linux']['resources'] = { devices: [{ allow: privileged, access: 'rwm' }] };
  if (pod.memoryLimitBytes !== undefined) resources.memory = { limit: pod.memoryLimitBytes };
  // kubelet: shares = milliCPU * 1024 / 1000, at least 2.
  if (pod.cpuRequestMillis !== undefined) resources.cpu = { shares: Math.max(2, Math.floor((pod.cpuRequestMillis * 1024) / 1000)) };

  const envNames = new Set(pod.env.map((entry) => entry.name));
  const spec: OciSpec = {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      // command replaces the image's entrypoint and args its cmd; the manifest gives both.
      args: [...pod.command, ...pod.args],
      env: [...image.env.filter((entry) => !envNames.has(entry.slice(0, entry.indexOf('=')))), ...pod.env.map((entry) => `${entry.name}=${entry.value}`)],
      cwd: image.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: !privileged && pod.securityContext.allowPrivilegeEscalation === false,
    },
    root: { path: rootfs, readonly: pod.securityContext.readOnlyRootFilesystem },
    mounts,
    linux: {
      namespaces,
      cgroupsPath,
      resources,
      maskedPaths: privileged ? [] : MASKED_PATHS,
      readonlyPaths: privileged ? [] : READONLY_PATHS,
    },
  };
  if (pod.priorityClassName === 'system-node-critical') spec.process.oomScoreAdj = -997;
  if (pod.command.length === 0) throw new Error('container: the manifest gives no command (the image entrypoint is not modelled)');
  return spec;
}
