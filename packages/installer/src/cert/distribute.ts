/**
 * `seal cert`, second half: put the new certificates on the masters **one at a time** and restart
 * that master's control plane before touching the next, so at most one API server is down at
 * once and a failure stops the rollout with the remaining masters untouched.
 *
 * Restart, as kubeadm documents it for static pods: the kubelet stops a pod whose manifest leaves
 * /etc/kubernetes/manifests and starts it again when the manifest comes back, now reading the new
 * files. The manifests are parked next to the directory (never in it: the kubelet would run them)
 * and moved back even if the command is interrupted; a manifest left parked by an interrupted run
 * is moved back first.
 */
import { joinHostPort, parseIp } from "@lvscare/contracts/ip";
import { API_SERVER_PORT, STATIC_POD_DIR } from "@lvscare/contracts/names";
import { InputError } from "../errors.ts";
import { PKI_DIR } from "../plan/files.ts";
import { parseSshTarget, type HostPool, type RemoteHost } from "../ssh/index.ts";
import type { MasterUpdate } from "./prepare-update.ts";

/** Where manifests wait while their pods stop: beside the manifests directory, which the kubelet watches. */
export const PARKED_MANIFEST_DIR = "/etc/kubernetes/seal-parked-manifests";

/**
 * Args: parked-dir manifest-dir seconds name... Moves each name's manifest out, waits, moves it
 * back; the trap moves them back on any exit, so a lost session never leaves a pod stopped.
 */
export const RESTART_STATIC_PODS = `set -eu
parked=$1 manifests=$2 wait=$3; shift 3
mkdir -p -m 0700 -- "$parked"
restore() { for name in "$@"; do [ ! -e "$parked/$name.yaml" ] || mv -f -- "$parked/$name.yaml" "$manifests/$name.yaml"; done; }
restore "$@"
for name in "$@"; do [ -e "$manifests/$name.yaml" ] || { echo "$manifests/$name.yaml does not exist" >&2; exit 3; }; done
trap 'restore "$@"' EXIT
trap 'exit 1' HUP INT TERM
for name in "$@"; do mv -f -- "$manifests/$name.yaml" "$parked/$name.yaml"; done
sleep "$wait"
restore "$@"
trap - EXIT
echo restarted`;

export interface RolloutOptions {
  /**
   * How long the manifests stay away: long enough for the kubelet to stop the pods (it watches
   * the directory with inotify and rescans every 20 s, its fileCheckFrequency). Default 20 s.
   */
  readonly parkSeconds?: number;
  /** Default 5 min: an API server that is not healthy by then stops the rollout. */
  readonly healthTimeoutMs?: number;
  /** Default 2 s between /healthz attempts. */
  readonly healthIntervalMs?: number;
  /**
   * The name the health check asks for (TLS SNI and certificate check), e.g. a new alt name:
   * proves the API server serves the new certificate. Default: the master's address.
   */
  readonly healthName?: string;
  /** Called as each step starts, for progress and logs. */
  readonly onStep?: (address: string, step: "write" | "restart" | "wait-healthy" | "done", detail?: string) => void;
}

/**
 * curl on the master, trusting only the cluster CA: the API server's /healthz through its own
 * certificate, at the master's own address (`address` as the pool names the host).
 */
export function healthzArgv(address: string, name: string | undefined): string[] {
  const { host } = parseSshTarget(address);
  const ip = parseIp(host);
  if (ip === undefined) throw new InputError(`${address}: a master is named by its IP address`);
  const url = name === undefined ? `https://${joinHostPort(ip, API_SERVER_PORT)}/healthz` : `https://${name}:${API_SERVER_PORT}/healthz`;
  const resolve = name === undefined ? [] : ["--resolve", `${name}:${API_SERVER_PORT}:${ip.family === 6 ? `[${host}]` : host}`];
  return ["curl", "-fsS", "--max-time", "5", "--cacert", `${PKI_DIR}/ca.crt`, ...resolve, url];
}

/** Refuses masters that cannot be health-checked, before anything changes. */
export async function checkRolloutTools(pool: HostPool, addresses: readonly string[]): Promise<void> {
  for (const address of addresses) {
    const result = await pool.host(address).run(["sh", "-c", "command -v curl"], { allowExitCodes: [0, 1, 127] });
    if (result.exitCode !== 0) throw new InputError(`${address}: curl is missing (the API server health check runs it on the master); install it there`);
  }
}

async function waitHealthy(host: RemoteHost, options: RolloutOptions): Promise<void> {
  const deadline = Date.now() + (options.healthTimeoutMs ?? 5 * 60_000);
  const argv = healthzArgv(host.address, options.healthName);
  let last = "";
  for (;;) {
    const result = await host.run(argv, { allowExitCodes: Array.from({ length: 256 }, (_, code) => code), timeoutMs: 30_000 });
    if (result.exitCode === 0 && result.stdout.trim() === "ok") return;
    last = (result.stderr.trim() || result.stdout.trim()).split("\n").pop() ?? "";
    if (Date.now() >= deadline) {
      throw new Error(`${host.address}: the API server is not healthy after the restart (${last}); the masters after it were not changed`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.healthIntervalMs ?? 2000));
  }
}

/**
 * Writes each master's files (atomically: temporary, checksum, rename), restarts its static pods
 * and waits for its API server, then the next master. Throws at the first failure.
 */
export async function rollOutCertificates(pool: HostPool, updates: readonly MasterUpdate[], options: RolloutOptions = {}): Promise<void> {
  for (const update of updates) {
    if (update.files.length === 0) {
      options.onStep?.(update.address, "done", "nothing to change");
      continue;
    }
    const host = pool.host(update.address);
    options.onStep?.(update.address, "write", `${update.files.length} files`);
    for (const file of update.files) await host.writeFileAtomic(file.path, file.content, { mode: file.mode });
    options.onStep?.(update.address, "restart", update.restarts.join(", "));
    await host.run(["sh", "-c", RESTART_STATIC_PODS, "seal-restart-static-pods", PARKED_MANIFEST_DIR, STATIC_POD_DIR, String(options.parkSeconds ?? 20), ...update.restarts]);
    options.onStep?.(update.address, "wait-healthy");
    await waitHealthy(host, options);
    options.onStep?.(update.address, "done");
  }
}
