/**
 * Everything every host receives, in memory: kubeadm configs, PKI, kubeconfigs, the lvscare
 * static pod, /etc/hosts entries, and the plan tying them to hosts and steps. No file is written
 * here; write-output.ts does that once all of it exists.
 */
import { renderLvscareStaticPod } from "@lvscare/lvscare/static-pod";
import { formatIp, joinHostPort } from "@lvscare/contracts/ip";
import { DEFAULT_DATAPLANE, type DataplaneName, LVSCARE_MANIFEST_PATH, NODE_IP_HOST_NAME } from "@lvscare/contracts/names";
import { kubeProxyModeWarnings, lvscareDataplane } from "../cluster/kube-proxy.ts";
import { master0Of, mastersOf, type ClusterSpec, type HostSpec } from "../cluster/spec.ts";
import { generateBootstrapToken } from "../kubeadm/bootstrap-token.ts";
import { decodeConfigFile, encodeConfigFile } from "../kubeadm/documents.ts";
import { controlPlaneEndpoint, renderKubeadmDocuments, type JoinSecrets } from "../kubeadm/render.ts";
import { buildClusterPki, type PkiDirFile } from "../pki/cluster-pki.ts";
import type { PkiDirContents } from "../pki/pki-dir.ts";
import { formatMode, SECRET_MODE, type HostFile } from "../plan/files.ts";
import { PLAN_FORMAT_VERSION, type Plan, type PlanFile, type PlanHost, type PlanHostsEntry } from "../plan/plan.ts";

export interface OutputFile {
  readonly mode: number;
  readonly content: string;
}

export interface RenderedCluster {
  readonly plan: Plan;
  /** Content by path relative to the output directory (the plan's `source`). */
  readonly files: ReadonlyMap<string, OutputFile>;
  readonly newPkiDirFiles: readonly PkiDirFile[];
  readonly caCertHash: string;
  readonly warnings: readonly string[];
}

export interface RenderOptions {
  readonly now: Date;
  /** Normally random; fixed only by tests that pin output. */
  readonly bootstrapToken?: string;
}

export function kubeadmConfigPath(spec: ClusterSpec, host: HostSpec): string {
  return `/var/lib/seal/${spec.name}/kubeadm/${host.master0 ? "init" : "join"}.yaml`;
}

/** Where a host file's content lives in the output directory. */
export function sourcePath(host: HostSpec, path: string): string {
  return `hosts/${host.addressText}${path}`;
}

export async function renderCluster(spec: ClusterSpec, pkiDir: PkiDirContents, options: RenderOptions): Promise<RenderedCluster> {
  const pki = await buildClusterPki(spec, pkiDir, options.now);
  const secrets: JoinSecrets = { bootstrapToken: options.bootstrapToken ?? generateBootstrapToken(), caCertHash: pki.caCertHash };
  const files = new Map<string, OutputFile>();
  const add = (host: HostSpec, file: HostFile): PlanFile => {
    const source = sourcePath(host, file.path);
    files.set(source, { mode: file.mode, content: file.content });
    return { path: file.path, mode: formatMode(file.mode), source };
  };

  const hosts = spec.hosts.map((host): PlanHost => {
    const kubeadmConfig: HostFile = {
      path: kubeadmConfigPath(spec, host),
      mode: SECRET_MODE, // holds the bootstrap token
      content: kubeadmConfigFile(spec, host, secrets),
    };
    const before = [...(pki.masterFiles.get(host.addressText) ?? []), kubeadmConfig].map((file) => add(host, file));
    const common = {
      address: host.addressText,
      hostname: host.hostname,
      role: host.role,
      master0: host.master0,
      files: before,
      hostsEntries: initialHostsEntries(spec, host),
      kubeadm: { command: host.master0 ? ("init" as const) : ("join" as const), config: kubeadmConfig.path },
    };
    if (host.role === "master") {
      return { ...common, afterKubeadm: { files: [], hostsEntries: host.master0 ? [] : [{ ip: host.addressText, names: [spec.apiServerName] }] } };
    }
    return {
      ...common,
      virtualServer: { address: joinHostPort(spec.vip, spec.apiServerPort), realServers: realServers(spec), ...dataplaneField(spec) },
      // kubeadm join's preflight wants an empty manifests directory, so the pod comes after.
      afterKubeadm: { files: [add(host, lvscarePod(spec, host))], hostsEntries: [] },
    };
  });

  const plan: Plan = {
    formatVersion: PLAN_FORMAT_VERSION,
    cluster: spec.name,
    kubernetesVersion: spec.kubernetesVersion.text,
    controlPlaneEndpoint: controlPlaneEndpoint(spec),
    vip: formatIp(spec.vip),
    hosts,
  };
  return { plan, files, newPkiDirFiles: pki.newPkiDirFiles, caCertHash: pki.caCertHash, warnings: [...kubeProxyModeWarnings(spec), ...pki.warnings] };
}

/** The YAML, checked by decoding it back strictly: a file kubeadm would refuse is never written. */
export function kubeadmConfigFile(spec: ClusterSpec, host: HostSpec, secrets: JoinSecrets): string {
  const documents = renderKubeadmDocuments(spec, host, secrets);
  const text = encodeConfigFile(documents);
  const decoded = decodeConfigFile(text);
  if (encodeConfigFile(decoded) !== text) throw new Error(`invariant: kubeadm config of ${host.addressText} does not round-trip`);
  return text;
}

/**
 * Masters reach the API through master0 until their own API server runs (afterKubeadm switches
 * them to themselves); workers through the VIP, with lvscare's gateway name on their own address.
 */
export function initialHostsEntries(spec: ClusterSpec, host: HostSpec): PlanHostsEntry[] {
  if (host.role === "master") return [{ ip: master0Of(spec).addressText, names: [spec.apiServerName] }];
  return [
    { ip: formatIp(spec.vip), names: [spec.apiServerName] },
    { ip: host.addressText, names: [NODE_IP_HOST_NAME] },
  ];
}

function realServers(spec: ClusterSpec): string[] {
  return mastersOf(spec).map((master) => joinHostPort(master.address, spec.apiServerPort));
}

/** Only a dataplane other than the default is named, so ipvs clusters keep sealos's manifest and plan. */
function dataplaneField(spec: ClusterSpec): { dataplane?: DataplaneName } {
  const dataplane = lvscareDataplane(spec);
  return dataplane === DEFAULT_DATAPLANE ? {} : { dataplane };
}

function lvscarePod(spec: ClusterSpec, host: HostSpec): HostFile {
  const { dataplane } = dataplaneField(spec);
  const content = renderLvscareStaticPod({
    vip: joinHostPort(spec.vip, spec.apiServerPort),
    masters: realServers(spec),
    image: spec.lvscareImage,
    nodeIp: host.addressText,
    ...(dataplane === undefined ? {} : { options: ["--dataplane", dataplane] }),
  });
  return { path: LVSCARE_MANIFEST_PATH, mode: SECRET_MODE, content };
}
