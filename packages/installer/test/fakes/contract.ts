/**
 * What the fakes promise to the tests that drive them (and to the lifecycle tests later): where a
 * host's fakes record their calls, where their settings live, and the shape of both. Everything a
 * test needs to read the fakes' results is exported from here, so no test hard-codes a path.
 */

/** Names on PATH: each is a `#!/bin/sh` wrapper written by `installFakes()` (install.ts). */
export const FAKE_TOOLS = ["kubeadm", "kubelet", "systemctl", "containerd", "ctr"] as const;
export type FakeToolName = (typeof FAKE_TOOLS)[number];

/** Per host, inside its private /var/lib: one JSON line per finished call of any fake. */
export const FAKES_STATE_DIR = "/var/lib/seal-fakes";
export const CALL_LOG = `${FAKES_STATE_DIR}/calls.jsonl`;
/** Logs of the daemons the fakes start (etcd, the stand-in API server, the fake containerd). */
export const DAEMON_LOG_DIR = `${FAKES_STATE_DIR}/logs`;
/** Pid files of those daemons; /run is per host and gone with it, as a reboot would clear it. */
export const FAKES_RUN_DIR = "/run/seal-fakes";
/** systemctl's unit states (enabled, active) per host. */
export const SYSTEMCTL_STATE = `${FAKES_STATE_DIR}/systemctl.json`;
/** Images `ctr images import` accepted, per containerd namespace. */
export const IMAGE_STORE = `${FAKES_STATE_DIR}/images.json`;

/** In the tool directory next to the wrappers: what this host's fakes report and how they time out. */
export const SETTINGS_FILE = "seal-fakes.json";
/** Environment variable the wrappers set to their own directory, so a fake finds its settings. */
export const TOOL_DIR_ENV = "SEAL_FAKE_TOOL_DIR";

export interface FakeSettings {
  /** `kubeadm version -o short`, e.g. `v1.31.2`; decides which config API versions and checks apply. */
  readonly kubeadmVersion: string;
  /** `kubelet --version`, checked by kubeadm's KubeletVersion preflight against the control plane. */
  readonly kubeletVersion: string;
  /** `containerd --version` / `ctr version`. */
  readonly containerdVersion: string;
  /**
   * Discovery timeout when the join configuration sets none (kubeadm's default is 5m). Tests of a
   * wrong token shorten it: an unknown token id makes kubeadm retry until this timeout.
   */
  readonly discoveryTimeout?: string;
  /** How long init/join wait for etcd and the API server to become healthy (kubeadm: 4m). */
  readonly controlPlaneTimeout?: string;
}

export const DEFAULT_SETTINGS: FakeSettings = {
  kubeadmVersion: "v1.31.2",
  kubeletVersion: "v1.31.2",
  containerdVersion: "1.7.22",
};

/** One line of CALL_LOG. Bootstrap token secrets and certificate keys in argv are replaced by `<redacted>`. */
export interface CallRecord {
  readonly tool: FakeToolName;
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly uid: number;
  /** ISO 8601 start of the call. */
  readonly time: string;
  readonly durationMs: number;
  readonly exitCode: number;
}

export function parseCallLog(text: string): CallRecord[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as CallRecord);
}
