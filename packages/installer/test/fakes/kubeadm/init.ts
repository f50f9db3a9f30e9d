/** `kubeadm init --config F`: master0, for real where the test host allows it (see README.md). */
import { createCipheriv, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseFlags, type FlagSpec } from "../lib/flags.ts";
import { readKubeconfig, renderKubeconfigFile } from "../lib/kubeconfig.ts";
import { parseGoDuration } from "../lib/duration.ts";
import { readSettings } from "../lib/settings.ts";
import { apiOk } from "../lib/kube-client.ts";
import { atLeastMinor, parseVersion, type Version } from "../lib/version.ts";
import { generateToken, readConfigFile, GLOBAL_FLAGS, refuseMixedFlags } from "./common.ts";
import { initSettings, loadDocuments, type InitSettings } from "./config.ts";
import { createToken, publishClusterInfo, markControlPlane, registerMirrorPods, registerNode, uploadConfig } from "./cluster-api.ts";
import {
  etcdCommand,
  startApiServer,
  startEtcd,
  waitForApiServer,
  waitForEtcd,
  writeControlPlaneManifests,
  writeEtcdManifest,
  type ControlPlaneNode,
} from "./control-plane.ts";
import { restartKubelet, writeKubeletFiles } from "./kubelet-files.ts";
import { kubeadmError, phaseError, print, say, warn } from "./output.ts";
import { Phases } from "./phases.ts";
import { checkCertificates, checkKubeconfig, firstServiceIp } from "./pki.ts";
import { announcePreflight, commonChecks, controlPlaneChecks, ipv4Forward, rootCheck, runChecks } from "./preflight.ts";
import { validateInit } from "./validate.ts";

export const INIT_FLAGS: readonly FlagSpec[] = [
  ...GLOBAL_FLAGS,
  { name: "config", kind: "string" },
  { name: "skip-phases", kind: "strings" },
  { name: "upload-certs", kind: "bool" },
  { name: "skip-certificate-key-print", kind: "bool" },
  { name: "skip-token-print", kind: "bool" },
  { name: "certificate-key", kind: "string" },
  { name: "ignore-preflight-errors", kind: "strings" },
  { name: "dry-run", kind: "bool" },
  { name: "patches", kind: "string" },
  // Flags that cannot be combined with --config (kubeadm refuses the mix).
  ...["apiserver-advertise-address", "apiserver-bind-port", "apiserver-cert-extra-sans", "cert-dir", "control-plane-endpoint", "cri-socket", "feature-gates", "image-repository", "kubernetes-version", "node-name", "pod-network-cidr", "service-cidr", "service-dns-domain", "token", "token-ttl"].map(
    (name) => ({ name, kind: "string" as const }),
  ),
];
const MIXABLE = ["config", "skip-phases", "upload-certs", "skip-certificate-key-print", "skip-token-print", "certificate-key", "ignore-preflight-errors", "dry-run", "patches", "v", "rootfs"];

export const KUBERNETES_DIR = "/etc/kubernetes";

export function controlPlaneNode(settings: InitSettings): ControlPlaneNode {
  const cluster = settings.cluster;
  return {
    nodeName: settings.nodeRegistration.name,
    advertiseAddress: settings.advertiseAddress,
    bindPort: settings.bindPort,
    certificatesDir: cluster.certificatesDir,
    etcdDataDir: cluster.etcdDataDir,
    serviceSubnet: cluster.serviceSubnet,
    ...(cluster.podSubnet === undefined ? {} : { podSubnet: cluster.podSubnet }),
    dnsDomain: cluster.dnsDomain,
    kubernetesVersion: cluster.kubernetesVersion,
    clusterName: cluster.clusterName,
    apiServerArgs: cluster.apiServerArgs,
    controllerManagerArgs: cluster.controllerManagerArgs,
  };
}

export function controlPlaneTimeout(fromConfig: number | undefined): number {
  const setting = readSettings().controlPlaneTimeout;
  return fromConfig ?? (setting === undefined ? undefined : parseGoDuration(setting)) ?? 240_000;
}

/** `kubeadm:kubeadm-certs`: the shared CA material, AES-GCM encrypted with the certificate key. */
const UPLOADED_CERTS = ["ca.crt", "ca.key", "front-proxy-ca.crt", "front-proxy-ca.key", "sa.key", "sa.pub", "etcd/ca.crt", "etcd/ca.key"];

async function uploadCerts(settings: InitSettings, key: string): Promise<void> {
  const keyBytes = Buffer.from(key, "hex");
  if (keyBytes.length !== 32) throw phaseError("upload-certs", "error decoding certificate key: the certificate key must be a hex-encoded 32-byte AES key");
  const data: Record<string, string> = {};
  for (const name of UPLOADED_CERTS) {
    const path = join(settings.cluster.certificatesDir, name);
    if (!existsSync(path)) continue;
    const nonce = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", keyBytes, nonce);
    const sealed = Buffer.concat([nonce, cipher.update(readFileSync(path)), cipher.final(), cipher.getAuthTag()]);
    data[name.replace("/", "-")] = sealed.toString("base64");
  }
  const admin = readKubeconfig(join(KUBERNETES_DIR, "admin.conf"));
  const secret = { apiVersion: "v1", kind: "Secret", metadata: { name: "kubeadm-certs", namespace: "kube-system" }, type: "Opaque", data };
  await apiOk(admin, "DELETE", "/api/v1/namespaces/kube-system/secrets/kubeadm-certs").catch(() => undefined);
  await apiOk(admin, "POST", "/api/v1/namespaces/kube-system/secrets", secret);
}

export async function runInit(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv, INIT_FLAGS);
  const kubeadm = parseVersion(readSettings().kubeadmVersion) as Version;
  refuseMixedFlags(flags, MIXABLE);
  if (flags.args.length > 0) throw kubeadmError(`unknown command "${flags.args[0]}" for "kubeadm init"`);
  if (flags.bool("dry-run") || flags.string("patches") !== undefined) throw kubeadmError("--dry-run and --patches are not modelled by this fake");
  const path = flags.string("config");
  if (path === undefined) throw kubeadmError("FAKE kubeadm models `kubeadm init --config FILE` only; give the configuration in a file");
  const loaded = loadDocuments(readConfigFile(path), kubeadm);
  const settings = initSettings(loaded, kubeadm);
  for (const warning of loaded.warnings) warn(warning);
  validateInit(settings, kubeadm);
  const phases = new Phases([...settings.skipPhases, ...flags.strings("skip-phases")], "init");
  const ignored = [...settings.nodeRegistration.ignorePreflightErrors, ...flags.strings("ignore-preflight-errors")];
  const cluster = settings.cluster;
  const node = controlPlaneNode(settings);
  const version = parseVersion(cluster.kubernetesVersion) as Version;
  say("init", `Using Kubernetes version: ${cluster.kubernetesVersion}`);

  if (phases.runs("preflight")) {
    announcePreflight();
    await runChecks([rootCheck()], ignored);
    const newer = version.minor > kubeadm.minor || version.major > kubeadm.major;
    if (newer) warn(`\t[WARNING KubernetesVersion]: Kubernetes version is greater than kubeadm version. Please consider to upgrade kubeadm. Kubernetes version: ${cluster.kubernetesVersion}. Kubeadm version: ${kubeadm.major}.${kubeadm.minor}.x`);
    await runChecks(
      [...controlPlaneChecks(settings.bindPort, cluster.etcdDataDir), ...commonChecks(settings.nodeRegistration.criSocket, cluster.kubernetesVersion, kubeadm), ipv4Forward()],
      ignored,
    );
  }
  const pkiNode = {
    certificatesDir: cluster.certificatesDir,
    nodeName: settings.nodeRegistration.name,
    advertiseAddress: settings.advertiseAddress,
    serviceSubnet: cluster.serviceSubnet,
    dnsDomain: cluster.dnsDomain,
    ...(cluster.controlPlaneEndpoint === undefined ? {} : { controlPlaneEndpoint: cluster.controlPlaneEndpoint }),
    certSANs: cluster.certSANs,
    etcdServerCertSANs: cluster.etcdServerCertSANs,
    etcdPeerCertSANs: cluster.etcdPeerCertSANs,
    localEtcd: !cluster.etcdExternal,
  };
  if (phases.runs("certs")) {
    say("certs", `Using certificateDir folder "${cluster.certificatesDir}"`);
    checkCertificates(pkiNode);
  }
  const endpoint = cluster.controlPlaneEndpoint ?? `${settings.advertiseAddress}:${settings.bindPort}`;
  const server = `https://${/:\d+$/.test(endpoint) ? endpoint : `${endpoint}:${settings.bindPort}`}`;
  const caPath = join(cluster.certificatesDir, "ca.crt");
  if (phases.runs("kubeconfig")) {
    const files = ["admin.conf", ...(atLeastMinor(version, 1, 29) ? ["super-admin.conf"] : []), "kubelet.conf", "controller-manager.conf", "scheduler.conf"];
    for (const file of files) {
      const local = file === "controller-manager.conf" || file === "scheduler.conf" ? `https://${settings.advertiseAddress}:${settings.bindPort}` : server;
      checkKubeconfig(join(KUBERNETES_DIR, file), caPath, local);
    }
  }
  if (phases.runs("etcd") && !cluster.etcdExternal) {
    const host = settings.advertiseAddress.includes(":") ? `[${settings.advertiseAddress}]` : settings.advertiseAddress;
    const command = etcdCommand(node, `${node.nodeName}=https://${host}:2380`, "new");
    writeEtcdManifest(node, command);
    startEtcd(command);
  }
  if (phases.runs("control-plane")) writeControlPlaneManifests(node);
  if (phases.runs("kubelet-start")) {
    writeKubeletFiles(
      loaded.documents.find((doc) => doc.kind === "KubeletConfiguration") === undefined ? undefined : JSON.stringify(settings.kubelet),
      settings.nodeRegistration.criSocket,
      settings.nodeRegistration.kubeletExtraArgs,
      cluster.dnsDomain,
      tenthServiceIp(cluster.serviceSubnet),
    );
    restartKubelet();
  }
  const timeoutMs = controlPlaneTimeout(settings.controlPlaneTimeoutMs);
  if (phases.runs("wait-control-plane")) {
    say("wait-control-plane", `Waiting for the kubelet to boot up the control plane as static Pods from directory "/etc/kubernetes/manifests"`);
    if (!cluster.etcdExternal) await waitForEtcd(node, timeoutMs);
    if (phases.runs("control-plane")) startApiServer(node, cluster.kubernetesVersion);
    await waitForApiServer(node, timeoutMs);
  }
  const admin = readKubeconfig(join(KUBERNETES_DIR, "admin.conf"));
  const api = async <T>(phase: string, what: () => Promise<T>): Promise<T> => {
    try {
      return await what();
    } catch (error) {
      throw phaseError(phase, error instanceof Error ? error.message : String(error));
    }
  };
  if (phases.runs("upload-config")) {
    say("upload-config", `Storing the configuration used in ConfigMap "kubeadm-config" in the "kube-system" Namespace`);
    const clusterDoc = { ...cluster.document, kubernetesVersion: cluster.kubernetesVersion };
    await api("upload-config", () => uploadConfig(admin, clusterDoc, settings.kubelet));
  }
  let certificateKey = flags.string("certificate-key") ?? settings.certificateKey;
  if (flags.bool("upload-certs") && phases.runs("upload-certs")) {
    certificateKey ??= randomBytes(32).toString("hex");
    say("upload-certs", `Storing the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace`);
    await api("upload-certs", () => uploadCerts(settings, certificateKey as string));
    if (!flags.bool("skip-certificate-key-print")) print(`[upload-certs] Using certificate key:\n${certificateKey}`);
  }
  if (phases.runs("mark-control-plane")) {
    say("mark-control-plane", `Marking the node ${node.nodeName} as control-plane by adding the labels and taints`);
    const kubelet = readKubeconfig(join(KUBERNETES_DIR, "kubelet.conf"));
    const fakeSettings = readSettings();
    await api("mark-control-plane", async () => {
      await registerNode(kubelet, { name: node.nodeName, address: settings.nodeRegistration.kubeletExtraArgs.get("node-ip") ?? settings.advertiseAddress, kubeletVersion: fakeSettings.kubeletVersion, containerRuntimeVersion: `containerd://${fakeSettings.containerdVersion}` });
      await registerMirrorPods(kubelet, node.nodeName, settings.advertiseAddress, settings.bindPort);
      await markControlPlane(admin, node.nodeName, settings.nodeRegistration.taints as Record<string, unknown>[] | undefined);
    });
  }
  const tokens = settings.bootstrapTokens.length > 0 ? settings.bootstrapTokens : [{ token: generateToken(), description: "", ttlMs: 24 * 3_600_000, usages: ["signing", "authentication"], groups: ["system:bootstrappers:kubeadm:default-node-token"] }];
  if (phases.runs("bootstrap-token")) {
    say("bootstrap-token", `Using token: ${flags.bool("skip-token-print") ? "<value withheld>" : (tokens[0]?.token ?? "")}`);
    await api("bootstrap-token", async () => {
      for (const token of tokens) await createToken(admin, token);
      say("bootstrap-token", `Creating the "cluster-info" ConfigMap in the "kube-public" namespace`);
      const caPem = readFileSync(caPath, "utf8");
      await publishClusterInfo(admin, renderKubeconfigFile({ clusterName: "", server, caPem, userName: "", user: {} }).replace(/\n/g, "\n"));
    });
  }
  if (phases.runs("addon")) say("addons", "CoreDNS and kube-proxy are not deployed: no pods run on a test host");
  print("\nYour Kubernetes control-plane has initialized successfully! (FAKE kubeadm: etcd and a stand-in API server run on this host)\n");
  if (phases.runs("show-join-command")) {
    const token = flags.bool("skip-token-print") ? "<value withheld>" : (tokens[0]?.token ?? "");
    print(`You can now join any number of machines by running the following on each node as root:\n\n  kubeadm join ${endpoint} --token ${token} --discovery-token-ca-cert-hash <value withheld>\n`);
  }
  return 0;
}

/** The cluster DNS address kubeadm puts in the kubelet configuration: the 10th address of the service range. */
function tenthServiceIp(serviceSubnet: string): string {
  const first = firstServiceIp(serviceSubnet);
  const octets = first.split(".");
  if (octets.length !== 4) return first;
  return [...octets.slice(0, 3), String(Number(octets[3]) + 9)].join(".");
}
