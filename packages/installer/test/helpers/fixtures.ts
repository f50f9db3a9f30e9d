/** The cluster the tests render: 3 masters and 2 workers, named, on Kubernetes 1.30 or 1.31. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildClusterSpec, type ClusterInput } from "../../src/cluster/validate.ts";
import type { ClusterSpec } from "../../src/cluster/spec.ts";
import { EMPTY_PKI_DIR } from "../../src/pki/pki-dir.ts";
import { renderCluster, type RenderedCluster } from "../../src/render/render-cluster.ts";
import { writeRenderOutput } from "../../src/render/write-output.ts";

export const MASTERS = ["10.0.0.1", "10.0.0.2", "10.0.0.3"];
export const WORKERS = ["10.0.0.11", "10.0.0.12"];
export const VIP = "10.103.97.2";

export function clusterInput(overrides: Partial<ClusterInput> = {}): ClusterInput {
  return {
    masters: MASTERS,
    nodes: WORKERS,
    hostnames: ["10.0.0.1=master-1", "10.0.0.2=master-2", "10.0.0.3=master-3", "10.0.0.11=worker-1", "10.0.0.12=worker-2"],
    certSans: ["k8s.example.com", "192.168.50.10"],
    ...overrides,
  };
}

export function clusterSpec(overrides: Partial<ClusterInput> = {}): ClusterSpec {
  return buildClusterSpec(clusterInput(overrides));
}

/** Test-only stand-ins for the random secrets, so rendered text can be pinned. */
export const FIXED_SECRETS = {
  bootstrapToken: "abcdef.0123456789abcdef",
  caCertHash: "sha256:0000000000000000000000000000000000000000000000000000000000000000",
};

export interface RenderedDir {
  readonly dir: string;
  readonly spec: ClusterSpec;
  readonly rendered: RenderedCluster;
  readonly now: Date;
  cleanup(): Promise<void>;
}

/** Renders `spec` into a fresh temporary directory through the same code as `seal render`. */
export async function renderToTemporaryDir(spec: ClusterSpec, now = new Date()): Promise<RenderedDir> {
  const parent = await mkdtemp(join(tmpdir(), "seal-test-"));
  const dir = join(parent, "out");
  const rendered = await renderCluster(spec, EMPTY_PKI_DIR, { now });
  await writeRenderOutput(dir, rendered, undefined);
  return { dir, spec, rendered, now, cleanup: () => rm(parent, { recursive: true, force: true }) };
}

/** Path of a host's file inside a render directory. */
export function hostPath(dir: string, address: string, path: string): string {
  return join(dir, "hosts", address, path);
}
