/**
 * The lvscare static pod manifest, as sealos's `sealctl static-pod lvscare` writes it: same pod
 * name, namespace, arguments, privileges and mounts, so nodes installed by either tool look alike.
 * Ours adds a liveness probe on the daemon's /healthz when the metrics server is enabled.
 */
import { DATAPLANES, type DataplaneName, LVSCARE_COMMAND, LVSCARE_STATIC_POD_NAME } from "@lvscare/contracts/names";
import { toKubernetesYaml } from "@lvscare/contracts/yaml";
import { isUnspecifiedIp, parseListenAddress } from "./address.ts";
import { UsageError } from "./errors.ts";
import { parseServerList } from "./servers.ts";
import { TMPDIR_VARIABLE } from "./executable-env.ts";

export { LVSCARE_COMMAND, LVSCARE_STATIC_POD_NAME as DEFAULT_STATIC_POD_NAME } from "@lvscare/contracts/names";
export { DEFAULT_LVSCARE_IMAGE } from "@lvscare/contracts/names";
/**
 * The pod's /tmp: an emptyDir (tmpfs, exec allowed), where the executable unpacks koffi's native
 * module before loading it; so a read-only root filesystem or an image's noexec /tmp cannot stop it.
 */
export const POD_TMPDIR = "/tmp";
/**
 * Measured (bench/dist-rss.ts, BENCHMARKS.md): the executable with three masters, run with
 * POD_NODE_OPTIONS, holds 64-66 MiB resident (bare Node 44.6 MiB in the same run; 72 MiB without the
 * V8 flags, 92 MiB when the prober still used undici); one probe per second per master costs under
 * 2% of a core. The request is what it uses plus room; the limit leaves over 3 times the peak for
 * load (more masters, TLS renegotiation, GC) and restarts a daemon that leaks, which leaves the
 * IPVS rules in place; with the heap capped the RSS is bounded near bare Node + code + 64 MiB, under
 * the limit. No CPU limit: a CFS quota delays probes until healthy masters look dead (issue 8,
 * section 4).
 */
/**
 * V8 flags, through NODE_OPTIONS (the single executable honours it, and it stays visible and
 * adjustable in the manifest without a rebuild):
 * - `--max-old-space-size=64`: the daemon's live heap is about 9 MiB (heap snapshot); 64 MiB of
 *   old space lets it grow sevenfold before V8 stops it, well inside the memory limit, so a leak
 *   ends in a restart (the IPVS rules stay) rather than in the node's OOM killer choosing a victim.
 * - `--max-semi-space-size=1` and `--jitless`: the daemon allocates little and runs little code,
 *   so a 1 MiB young generation and no JIT-compiled code cost no measurable CPU in the VM runs
 *   (BENCHMARKS.md) and save 7-8 MiB resident; without them V8 also let an idle daemon's RSS creep
 *   up by steps (72 to 88 MiB over 13 minutes), with them it stayed flat. `--jitless` also turns
 *   WebAssembly off, which nothing in the daemon uses (undici's parser was the one user).
 */
export const POD_NODE_OPTIONS = "--max-old-space-size=64 --max-semi-space-size=1 --jitless";

export const POD_RESOURCES = {
  limits: { memory: "256Mi" },
  requests: { cpu: "20m", memory: "80Mi" },
} as const;

export interface LvscareStaticPodOptions {
  /** Virtual server `IP:port` (e.g. 10.103.97.2:6443). */
  vip: string;
  /** Every master's `IP:port`. */
  masters: string[];
  /** Container image of lvscare. */
  image: string;
  /** Pod and container name; default kube-sealos-lvscare. */
  name?: string;
  /** Extra `lvscare care` arguments appended after sealos's, e.g. ["--mode", "link"]. */
  options?: string[];
  /** Adds `--metrics-addr` to the arguments and a liveness probe on its /healthz. */
  metricsAddr?: string;
  /** Adds `--dataplane <name>` to the arguments (ipvs, nftables, auto); lvscare's default (ipvs) when absent. */
  dataplane?: DataplaneName;
  /** Legacy env LVSCARE_NODE_IP that sealos sets from the `lvscare.node.ip` hosts entry. */
  nodeIp?: string;
}

// DNS-1123 label: kubelet refuses other pod names, better to say so before writing the file.
const POD_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Renders the manifest as YAML the kubelet reads; throws UsageError on bad input, so nothing half-valid is written. */
export function renderLvscareStaticPod(opts: LvscareStaticPodOptions): string {
  const name = opts.name ?? LVSCARE_STATIC_POD_NAME;
  if (!POD_NAME.test(name)) {
    throw new UsageError(`--name: "${name}" is not a valid pod name (lower-case DNS label, at most 63 characters)`);
  }
  const image = opts.image.trim();
  if (image === "" || /\s/.test(image)) throw new UsageError(`--image: "${opts.image}" is not an image reference`);
  // Same checks as `lvscare care` makes at start-up: a manifest that cannot start is refused now.
  parseServerList(opts.vip, opts.masters);
  const extra = [...(opts.options ?? [])];
  if (extra.some((arg) => arg === "--vs" || arg.startsWith("--vs=") || arg === "--rs" || arg.startsWith("--rs="))) {
    throw new UsageError("--options: --vs and --rs come from --vip and --masters, not from --options");
  }

  const metricsInOptions = findOptionValue(extra, "--metrics-addr");
  if (opts.metricsAddr !== undefined && metricsInOptions !== undefined) {
    throw new UsageError("--metrics-addr given both directly and inside --options");
  }
  if (opts.metricsAddr !== undefined) extra.push("--metrics-addr", opts.metricsAddr);
  const dataplaneInOptions = findOptionValue(extra, "--dataplane");
  for (const name of [opts.dataplane, dataplaneInOptions]) {
    if (name !== undefined && !DATAPLANES.some((d) => d === name)) {
      throw new UsageError(`--dataplane: "${name}" is not one of ${DATAPLANES.join(", ")}`);
    }
  }
  if (opts.dataplane !== undefined && dataplaneInOptions !== undefined) {
    throw new UsageError("--dataplane given both directly and inside --options");
  }
  if (opts.dataplane !== undefined) extra.push("--dataplane", opts.dataplane);
  const metricsAddr = opts.metricsAddr ?? metricsInOptions;

  const args = ["care", "--vs", opts.vip, "--health-path", "/healthz", "--health-schem", "https"];
  for (const master of opts.masters) args.push("--rs", master);
  args.push(...extra);

  const container: Record<string, unknown> = {
    args,
    command: [LVSCARE_COMMAND],
  };
  container["env"] = [
    ...(opts.nodeIp === undefined ? [] : [{ name: "LVSCARE_NODE_IP", value: opts.nodeIp }]),
    { name: "NODE_OPTIONS", value: POD_NODE_OPTIONS },
    { name: TMPDIR_VARIABLE, value: POD_TMPDIR },
  ];
  container["image"] = image;
  container["imagePullPolicy"] = "IfNotPresent";
  if (metricsAddr !== undefined) container["livenessProbe"] = livenessProbe(metricsAddr);
  container["name"] = name;
  container["resources"] = { limits: { ...POD_RESOURCES.limits }, requests: { ...POD_RESOURCES.requests } };
  // Read-only root: the daemon writes only to the pod's /tmp (koffi's module); proven with runc and
  // crun in test/kernel/lvscare-container.kernel.ts.
  container["securityContext"] = { privileged: true, readOnlyRootFilesystem: true };
  container["volumeMounts"] = [
    { mountPath: "/lib/modules", name: "lib-modules", readOnly: true },
    { mountPath: POD_TMPDIR, name: "tmp" },
  ];

  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { creationTimestamp: null, name, namespace: "kube-system" },
    spec: {
      containers: [container],
      hostNetwork: true,
      priorityClassName: "system-node-critical",
      volumes: [
        { hostPath: { path: "/lib/modules", type: "" }, name: "lib-modules" },
        // koffi.node is 1.1 MiB and deleted once loaded; tmpfs pages count toward the memory limit.
        { emptyDir: { medium: "Memory", sizeLimit: "16Mi" }, name: "tmp" },
      ],
    },
    status: {},
  };
  return toKubernetesYaml(pod);
}

function livenessProbe(metricsAddr: string): Record<string, unknown> {
  const listen = parseListenAddress(metricsAddr, "--metrics-addr");
  const httpGet: Record<string, unknown> = {};
  // hostNetwork pod: without a host the kubelet probes the node IP, which a loopback-only
  // listener would not answer.
  if (listen.ip !== undefined && !isUnspecifiedIp(listen.ip)) httpGet["host"] = listen.ip;
  httpGet["path"] = "/healthz";
  httpGet["port"] = listen.port;
  httpGet["scheme"] = "HTTP";
  return { failureThreshold: 3, httpGet, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 5 };
}

/** Value of `--flag VALUE` or `--flag=VALUE` in an argument list (the last one wins, as in commander). */
function findOptionValue(args: readonly string[], flag: string): string | undefined {
  let found: string | undefined;
  args.forEach((arg, index) => {
    if (arg === flag) {
      const value = args[index + 1];
      if (value === undefined) throw new UsageError(`--options: ${flag} needs a value`);
      found = value;
    } else if (arg.startsWith(`${flag}=`)) {
      found = arg.slice(flag.length + 1);
    }
  });
  return found;
}
