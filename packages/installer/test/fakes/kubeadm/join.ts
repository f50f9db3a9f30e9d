/**
 * `kubeadm join`: workers and (`controlPlane` / `--control-plane`) further masters. Discovery and
 * the CA pin for both; the kubelet's TLS bootstrap for real (a CSR signed by the stand-in API
 * server with the cluster CA) unless a kubelet.conf is already there; for masters the shared PKI
 * on disk is checked, the etcd member is added with `etcdctl member add` and started, and the
 * stand-in API server joins it.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parse } from "yaml";
import { parseFlags, type FlagSpec } from "../lib/flags.ts";
import { readKubeconfig, renderKubeconfigFile, type KubeconfigCredentials } from "../lib/kubeconfig.ts";
import { parseGoDuration } from "../lib/duration.ts";
import { apiOk } from "../lib/kube-client.ts";
import { certificateRequest, generateEcKey } from "../lib/openssl.ts";
import { readSettings } from "../lib/settings.ts";
import { atLeastMinor, parseVersion, type Version } from "../lib/version.ts";
import { etcdClientUrls, markControlPlane, registerMirrorPods, registerNode } from "./cluster-api.ts";
import { GLOBAL_FLAGS, readConfigFile, refuseMixedFlags } from "./common.ts";
import { clusterSettings, defaultAdvertiseAddress, DEFAULT_CRI_SOCKET, defaultNodeName, joinSettings, loadDocuments, type ClusterSettings, type JoinSettings } from "./config.ts";
import { etcdCommand, startApiServer, startEtcd, waitForApiServer, waitForEtcd, writeControlPlaneManifests, writeEtcdManifest, writeFileAtomic, type ControlPlaneNode } from "./control-plane.ts";
import { discover } from "./discovery.ts";
import { controlPlaneTimeout, KUBERNETES_DIR } from "./init.ts";
import { restartKubelet, writeKubeletFiles } from "./kubelet-files.ts";
import { kubeadmError, phaseError, print, say, warn } from "./output.ts";
import { Phases } from "./phases.ts";
import { checkCertificates, checkKubeconfig, firstServiceIp } from "./pki.ts";
import { announcePreflight, commonChecks, controlPlaneChecks, dirAvailable, fileAvailable, ipv4Forward, MANIFESTS_DIR, rootCheck, runChecks, type Check } from "./preflight.ts";
import { validateJoin } from "./validate.ts";

export const JOIN_FLAGS: readonly FlagSpec[] = [
  ...GLOBAL_FLAGS,
  { name: "config", kind: "string" },
  { name: "skip-phases", kind: "strings" },
  { name: "ignore-preflight-errors", kind: "strings" },
  { name: "dry-run", kind: "bool" },
  { name: "patches", kind: "string" },
  { name: "control-plane", kind: "bool" },
  { name: "discovery-token-unsafe-skip-ca-verification", kind: "bool" },
  { name: "discovery-token-ca-cert-hash", kind: "strings" },
  ...["token", "discovery-token", "discovery-file", "tls-bootstrap-token", "apiserver-advertise-address", "apiserver-bind-port", "node-name", "cri-socket", "certificate-key"].map((name) => ({ name, kind: "string" as const })),
];
const MIXABLE = ["config", "skip-phases", "ignore-preflight-errors", "dry-run", "patches", "v", "rootfs"];

const BOOTSTRAP_KUBELET_CONF = join(KUBERNETES_DIR, "bootstrap-kubelet.conf");
const KUBELET_CONF = join(KUBERNETES_DIR, "kubelet.conf");
const KUBELET_PKI = "/var/lib/kubelet/pki";

function settingsFromFlags(flags: ReturnType<typeof parseFlags>): JoinSettings {
  if (flags.args.length > 1) throw kubeadmError(`accepts at most 1 arg(s), received ${flags.args.length}`);
  const token = flags.string("discovery-token") ?? flags.string("token");
  const controlPlane = flags.bool("control-plane");
  return {
    apiVersion: "flags",
    nodeRegistration: {
      name: flags.string("node-name") ?? defaultNodeName(),
      criSocket: flags.string("cri-socket") ?? DEFAULT_CRI_SOCKET,
      ignorePreflightErrors: [],
      kubeletExtraArgs: new Map(),
    },
    caCertPath: "/etc/kubernetes/pki/ca.crt",
    ...(token === undefined ? {} : { token }),
    ...(flags.args[0] === undefined ? {} : { apiServerEndpoint: flags.args[0] }),
    caCertHashes: flags.strings("discovery-token-ca-cert-hash"),
    unsafeSkipCAVerification: flags.bool("discovery-token-unsafe-skip-ca-verification"),
    ...(flags.string("discovery-file") === undefined ? {} : { discoveryFile: flags.string("discovery-file") as string }),
    ...(controlPlane
      ? {
          controlPlane: {
            advertiseAddress: flags.string("apiserver-advertise-address") ?? defaultAdvertiseAddress(),
            bindPort: Number(flags.string("apiserver-bind-port") ?? 6443),
            ...(flags.string("certificate-key") === undefined ? {} : { certificateKey: flags.string("certificate-key") as string }),
          },
        }
      : {}),
    skipPhases: [],
  };
}

/** The kubelet's TLS bootstrap, done the way the kubelet does it (the fake kubelet runs nothing). */
async function tlsBootstrap(nodeName: string, server: string, caPem: string, token: string): Promise<KubeconfigCredentials> {
  writeFileAtomic(BOOTSTRAP_KUBELET_CONF, renderKubeconfigFile({ clusterName: "kubernetes", server, caPem, userName: "tls-bootstrap-token-user", user: { token } }), 0o600);
  say("kubelet-start", "Waiting for the kubelet to perform the TLS Bootstrap (FAKE kubeadm performs it in the kubelet's place)");
  const key = generateEcKey();
  const csr = certificateRequest(key, `/O=system:nodes/CN=system:node:${nodeName}`);
  const bootstrap = { server, caPem, token };
  const created = (await apiOk(bootstrap, "POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests", {
    apiVersion: "certificates.k8s.io/v1",
    kind: "CertificateSigningRequest",
    metadata: { generateName: "csr-" },
    spec: { request: Buffer.from(csr).toString("base64"), signerName: "kubernetes.io/kube-apiserver-client-kubelet", usages: ["digital signature", "client auth"] },
  })) as { status?: { certificate?: string }; metadata?: { name?: string } };
  const certificate = created.status?.certificate;
  if (certificate === undefined) throw phaseError("kubelet-start", `the certificate signing request ${created.metadata?.name ?? ""} was not approved: timed out waiting for the condition`);
  const certPem = Buffer.from(certificate, "base64").toString();
  mkdirSync(KUBELET_PKI, { recursive: true, mode: 0o700 });
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").replace("T", "-");
  const pemPath = join(KUBELET_PKI, `kubelet-client-${stamp}.pem`);
  writeFileAtomic(pemPath, `${certPem}${key}`, 0o600);
  const current = join(KUBELET_PKI, "kubelet-client-current.pem");
  rmSync(current, { force: true });
  symlinkSync(pemPath, current);
  writeFileAtomic(
    KUBELET_CONF,
    renderKubeconfigFile({ clusterName: "default-cluster", server, caPem, userName: "default-auth", user: { "client-certificate": current, "client-key": current } }),
    0o600,
  );
  rmSync(BOOTSTRAP_KUBELET_CONF, { force: true });
  return { server, caPem, certPem, keyPem: key };
}

function etcdctl(args: readonly string[], certificatesDir: string): { ok: boolean; output: string } {
  const pki = (name: string) => join(certificatesDir, "etcd", name);
  const result = spawnSync(
    "etcdctl",
    ["--cacert", pki("ca.crt"), "--cert", pki("healthcheck-client.crt"), "--key", pki("healthcheck-client.key"), "--dial-timeout", "5s", "--command-timeout", "15s", ...args],
    { encoding: "utf8", env: { ...process.env, ETCDCTL_API: "3" } },
  );
  if (result.error !== undefined) throw phaseError("control-plane-join/etcd", `etcdctl is not installed: install the Debian package etcd-client (${result.error.message})`);
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}`.trim() };
}

export { etcdctl };

export async function runJoin(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv, JOIN_FLAGS);
  const fake = readSettings();
  const kubeadm = parseVersion(fake.kubeadmVersion) as Version;
  refuseMixedFlags(flags, MIXABLE);
  if (flags.bool("dry-run") || flags.string("patches") !== undefined) throw kubeadmError("--dry-run and --patches are not modelled by this fake");
  const path = flags.string("config");
  let settings: JoinSettings;
  if (path !== undefined) {
    if (flags.args.length > 0) throw kubeadmError(`can not mix '--config' with arguments [${flags.args.join(" ")}]`);
    const loaded = loadDocuments(readConfigFile(path), kubeadm);
    settings = joinSettings(loaded);
    for (const warning of loaded.warnings) warn(warning);
    for (const doc of loaded.documents) if (doc.kind !== "JoinConfiguration") say("config", `${doc.apiVersion}/${doc.kind} ignored: kubeadm join reads only the JoinConfiguration`);
  } else {
    settings = settingsFromFlags(flags);
  }
  validateJoin(settings, kubeadm);
  if (settings.discoveryFile !== undefined) throw kubeadmError("file discovery is not modelled by this fake; use token discovery");
  const phases = new Phases([...settings.skipPhases, ...flags.strings("skip-phases")], "join");
  const ignored = [...settings.nodeRegistration.ignorePreflightErrors, ...flags.strings("ignore-preflight-errors")];
  const node = settings.nodeRegistration;
  const cp = settings.controlPlane;

  if (phases.runs("preflight")) {
    announcePreflight();
    await runChecks([rootCheck()], ignored);
    const checks: Check[] = [fileAvailable(KUBELET_CONF), fileAvailable(BOOTSTRAP_KUBELET_CONF)];
    // Before 1.23 kubeadm refused any non-empty manifests directory on every joining node.
    if (!atLeastMinor(kubeadm, 1, 23)) checks.unshift(dirAvailable(MANIFESTS_DIR));
    checks.push(...commonChecks(node.criSocket, "", kubeadm));
    if (cp === undefined) checks.push(fileAvailable(settings.caCertPath));
    if (/^\d+\.\d+\.\d+\.\d+:/.test(settings.apiServerEndpoint ?? "")) checks.push(ipv4Forward());
    await runChecks(checks, ignored);
  }
  const discoveryTimeout = settings.discoveryTimeoutMs ?? (fake.discoveryTimeout === undefined ? undefined : parseGoDuration(fake.discoveryTimeout)) ?? 300_000;
  const discovered = await discover({
    apiServerEndpoint: settings.apiServerEndpoint ?? "",
    token: settings.token ?? "",
    caCertHashes: settings.caCertHashes,
    unsafeSkipCAVerification: settings.unsafeSkipCAVerification,
    timeoutMs: discoveryTimeout,
  });
  const token = settings.tlsBootstrapToken ?? settings.token ?? "";
  const bootstrap = { server: discovered.server, caPem: discovered.caPem, token };
  say("preflight", "Reading configuration from the cluster...");
  let cluster: ClusterSettings;
  let kubeletYaml: string | undefined;
  try {
    const kubeadmConfig = (await apiOk(bootstrap, "GET", "/api/v1/namespaces/kube-system/configmaps/kubeadm-config")) as { data?: Record<string, string> };
    cluster = clusterSettings(parse(kubeadmConfig.data?.["ClusterConfiguration"] ?? "{}") as Record<string, unknown>, fake.kubeadmVersion, []);
    const kubeletConfig = (await apiOk(bootstrap, "GET", "/api/v1/namespaces/kube-system/configmaps/kubelet-config")) as { data?: Record<string, string> };
    kubeletYaml = kubeletConfig.data?.["kubelet"];
  } catch (error) {
    throw phaseError("preflight", `unable to fetch the kubeadm-config ConfigMap: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (phases.runs("preflight")) {
    await runChecks([commonChecks(node.criSocket, cluster.kubernetesVersion, kubeadm).find((check) => check.name === "KubeletVersion") as Check], ignored);
  }

  let cpNode: ControlPlaneNode | undefined;
  if (cp !== undefined) {
    cpNode = {
      nodeName: node.name,
      advertiseAddress: cp.advertiseAddress,
      bindPort: cp.bindPort,
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
    if (phases.runs("preflight")) {
      say("preflight", "Running pre-flight checks before initializing the new control plane instance");
      await runChecks(controlPlaneChecks(cp.bindPort, cluster.etcdDataDir), ignored);
    }
    if (cp.certificateKey !== undefined) throw kubeadmError("--certificate-key (downloading certificates from the kubeadm-certs Secret) is not modelled by this fake: put the shared PKI on disk");
    if (phases.runs("control-plane-prepare")) {
      checkCertificates({
        certificatesDir: cluster.certificatesDir,
        nodeName: node.name,
        advertiseAddress: cp.advertiseAddress,
        serviceSubnet: cluster.serviceSubnet,
        dnsDomain: cluster.dnsDomain,
        ...(cluster.controlPlaneEndpoint === undefined ? {} : { controlPlaneEndpoint: cluster.controlPlaneEndpoint }),
        certSANs: cluster.certSANs,
        etcdServerCertSANs: cluster.etcdServerCertSANs,
        etcdPeerCertSANs: cluster.etcdPeerCertSANs,
        localEtcd: !cluster.etcdExternal,
      });
      const caPath = join(cluster.certificatesDir, "ca.crt");
      checkKubeconfig(join(KUBERNETES_DIR, "admin.conf"), caPath, discovered.server);
      for (const file of ["controller-manager.conf", "scheduler.conf"]) checkKubeconfig(join(KUBERNETES_DIR, file), caPath, `https://${cp.advertiseAddress}:${cp.bindPort}`);
      writeControlPlaneManifests(cpNode);
    }
  }

  let kubelet: KubeconfigCredentials | undefined;
  if (phases.runs("kubelet-start")) {
    if (cp === undefined) {
      say("kubelet-start", `Writing the cluster CA to "${settings.caCertPath}"`);
      writeFileAtomic(settings.caCertPath, discovered.caPem, 0o644);
    }
    writeKubeletFiles(kubeletYaml, node.criSocket, node.kubeletExtraArgs, cluster.dnsDomain, firstServiceIp(cluster.serviceSubnet).replace(/\.1$/, ".10"));
    restartKubelet();
    if (existsSync(KUBELET_CONF)) {
      say("kubelet-start", `Using the existing "${KUBELET_CONF}": the kubelet skips the TLS bootstrap`);
      if (cp !== undefined) checkKubeconfig(KUBELET_CONF, settings.caCertPath, undefined);
      kubelet = readKubeconfig(KUBELET_CONF);
    } else {
      kubelet = await tlsBootstrap(node.name, discovered.server, discovered.caPem, token);
    }
    try {
      const address = node.kubeletExtraArgs.get("node-ip") ?? cp?.advertiseAddress ?? defaultAdvertiseAddress();
      await registerNode(kubelet, { name: node.name, address, kubeletVersion: fake.kubeletVersion, containerRuntimeVersion: `containerd://${fake.containerdVersion}` });
    } catch (error) {
      throw phaseError("kubelet-start", `error waiting for the kubelet to register node "${node.name}": ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  if (cp !== undefined && cpNode !== undefined && phases.runs("control-plane-join")) {
    const admin = readKubeconfig(join(KUBERNETES_DIR, "admin.conf"));
    if (!cluster.etcdExternal) {
      let endpoints: string[];
      try {
        endpoints = await etcdClientUrls(admin);
      } catch (error) {
        throw phaseError("control-plane-join/etcd", `error creating local etcd static pod manifest file: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (endpoints.length === 0) throw phaseError("control-plane-join/etcd", "error creating local etcd static pod manifest file: etcd cluster is not healthy: no etcd endpoints found in the cluster");
      const host = cp.advertiseAddress.includes(":") ? `[${cp.advertiseAddress}]` : cp.advertiseAddress;
      say("etcd", `Announced new etcd member joining to the existing etcd cluster (etcdctl member add ${node.name} against ${endpoints.join(",")})`);
      // Like kubeadm's etcd client, retry while etcd refuses a new voting member because the last
      // one joined too recently ("unhealthy cluster") or a member is briefly unreachable.
      let added = etcdctl(["--endpoints", endpoints.join(","), "member", "add", node.name, `--peer-urls=https://${host}:2380`], cluster.certificatesDir);
      for (let attempt = 0; !added.ok && /unhealthy cluster|context deadline exceeded|Unavailable/.test(added.output) && attempt < 40; attempt++) {
        await sleep(1000);
        added = etcdctl(["--endpoints", endpoints.join(","), "member", "add", node.name, `--peer-urls=https://${host}:2380`], cluster.certificatesDir);
      }
      if (!added.ok) throw phaseError("control-plane-join/etcd", `error creating local etcd static pod manifest file: ${added.output}`);
      const initialCluster = /ETCD_INITIAL_CLUSTER="([^"]*)"/.exec(added.output)?.[1];
      if (initialCluster === undefined) throw phaseError("control-plane-join/etcd", `unexpected etcdctl member add output: ${added.output}`);
      const command = etcdCommand(cpNode, initialCluster, "existing");
      writeEtcdManifest(cpNode, command);
      startEtcd(command);
      say("etcd", "Waiting for the new etcd member to join the cluster. This can take up to 40s");
      await waitForEtcd(cpNode, controlPlaneTimeout(undefined));
    }
    startApiServer(cpNode, cluster.kubernetesVersion);
    await waitForApiServer(cpNode, controlPlaneTimeout(undefined));
    say("mark-control-plane", `Marking the node ${node.name} as control-plane by adding the labels and taints`);
    try {
      await registerMirrorPods(kubelet ?? readKubeconfig(KUBELET_CONF), node.name, cp.advertiseAddress, cp.bindPort);
      await markControlPlane(admin, node.name, node.taints as Record<string, unknown>[] | undefined);
    } catch (error) {
      throw phaseError("control-plane-join/mark-control-plane", error instanceof Error ? error.message : String(error));
    }
  }
  print(`\nThis node has joined the cluster${cp === undefined ? "" : " and a new control plane instance was created"}: (FAKE kubeadm)\n* Certificate signing request was sent to apiserver and a response was received.\n* The Kubelet was informed of the new secure connection details.\n`);
  return 0;
}
