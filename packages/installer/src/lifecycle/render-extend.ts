/**
 * A cluster's stored render (`~/.seal/<cluster>/render/`) after `seal add` or `seal delete`: the
 * cluster is rendered again for its new hosts from the stored CAs (`pki/`) and the same bootstrap
 * token, then the hosts that are already installed keep what they received (their certificates
 * and keys are on their disks; a repeated run must see no change), the new hosts and every
 * worker take the new render (a worker's lvscare static pod lists the masters as they are now),
 * and removed hosts are gone. The new render replaces the old in two renames.
 */
import { randomBytes } from "node:crypto";
import { existsSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { ClusterSpec } from "../cluster/spec.ts";
import { readPkiDir } from "../pki/pki-dir.ts";
import type { PlanHost } from "../plan/plan.ts";
import { renderCluster, type OutputFile, type RenderedCluster } from "../render/render-cluster.ts";
import { writeRenderOutput } from "../render/write-output.ts";
import { loadRenderedPlan, type RenderedPlan } from "./rendered-plan.ts";

const BOOTSTRAP_TOKEN = /\b[a-z0-9]{6}\.[a-z0-9]{16}\b/;

/** The bootstrap token the stored render put in its kubeadm configs (every host's is the same). */
export function storedBootstrapToken(rendered: RenderedPlan): string {
  for (const host of rendered.plan.hosts) {
    const config = host.files.find((file) => file.path === host.kubeadm.config);
    const token = config === undefined ? undefined : BOOTSTRAP_TOKEN.exec(rendered.content(config).toString("utf8"))?.[0];
    if (token !== undefined) return token;
  }
  throw new Error(`invariant: no bootstrap token in the kubeadm configs of ${rendered.dir}`);
}

/**
 * Merges a new render with the stored one: `keep` hosts (installed masters) keep their stored
 * plan entry and files; every other host of the new render takes the new one.
 */
export function mergeRenders(stored: RenderedPlan, fresh: RenderedCluster, keep: ReadonlySet<string>): RenderedCluster {
  const files = new Map<string, OutputFile>();
  const hosts: PlanHost[] = fresh.plan.hosts.map((host) => {
    const old = keep.has(host.address) ? stored.plan.hosts.find((candidate) => candidate.address === host.address) : undefined;
    const entry = old ?? host;
    for (const file of [...entry.files, ...entry.afterKubeadm.files]) {
      if (old === undefined) {
        const content = fresh.files.get(file.source);
        if (content === undefined) throw new Error(`invariant: ${file.source} missing from the new render`);
        files.set(file.source, content);
      } else {
        files.set(file.source, { mode: Number.parseInt(file.mode, 8), content: stored.content(file).toString("utf8") });
      }
    }
    return entry;
  });
  return { ...fresh, plan: { ...fresh.plan, kubernetesVersion: stored.plan.kubernetesVersion, hosts }, files, newPkiDirFiles: [] };
}

/** The cluster rendered for its new members, merged with the stored render (nothing written). */
export async function renderMembers(renderDir: string, pkiDir: string, spec: ClusterSpec, keep: ReadonlySet<string>): Promise<RenderedCluster> {
  const stored = loadRenderedPlan(renderDir);
  const now = new Date();
  if (!existsSync(join(pkiDir, "ca.crt"))) throw new Error(`the cluster's CA store ${pkiDir} is missing: new hosts need the cluster's CAs`);
  const fresh = await renderCluster(spec, await readPkiDir(pkiDir, now), { now, bootstrapToken: storedBootstrapToken(stored) });
  if (fresh.newPkiDirFiles.length > 0) throw new Error(`the CA store ${pkiDir} lacks ${fresh.newPkiDirFiles.map((file) => file.relativePath).join(", ")}: it is not the cluster's`);
  return mergeRenders(stored, fresh, keep);
}

/** Puts a merged render in place of the stored one (written whole beside it, then two renames). */
export async function replaceRender(renderDir: string, merged: RenderedCluster): Promise<RenderedPlan> {
  const suffix = randomBytes(6).toString("hex");
  const next = join(dirname(renderDir), `.${basename(renderDir)}.next-${suffix}`);
  const previous = join(dirname(renderDir), `.${basename(renderDir)}.previous-${suffix}`);
  await writeRenderOutput(next, merged, undefined);
  renameSync(renderDir, previous);
  renameSync(next, renderDir);
  rmSync(previous, { recursive: true, force: true });
  return loadRenderedPlan(renderDir);
}

/** A host's entry in the rendered plan; every host a command works on is in it. */
export function planHostOf(rendered: RenderedPlan, address: string): PlanHost {
  const host = rendered.plan.hosts.find((candidate) => candidate.address === address);
  if (host === undefined) throw new Error(`invariant: ${address} is not in ${rendered.dir}/plan.json`);
  return host;
}
