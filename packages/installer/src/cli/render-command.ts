/**
 * `seal render`: validate everything, read --pki-dir, check the output directory, and only then
 * generate and write. Any InputError before the write leaves the disk untouched.
 */
import { buildClusterSpec, type ClusterInput } from "../cluster/validate.ts";
import { EMPTY_PKI_DIR, readPkiDir } from "../pki/pki-dir.ts";
import { renderCluster } from "../render/render-cluster.ts";
import { checkOutputDirectory, writeRenderOutput } from "../render/write-output.ts";
import type { Output } from "./output.ts";

export interface RenderCommandOptions extends ClusterInput {
  readonly output: string;
  readonly pkiDir?: string;
}

export async function runRender(options: RenderCommandOptions, out: Output): Promise<void> {
  const spec = buildClusterSpec(options);
  const now = new Date();
  const pkiDir = options.pkiDir === undefined ? EMPTY_PKI_DIR : await readPkiDir(options.pkiDir, now);
  await checkOutputDirectory(options.output);

  const rendered = await renderCluster(spec, pkiDir, { now });
  await writeRenderOutput(options.output, rendered, options.pkiDir);

  for (const warning of rendered.warnings) out.warn(warning);
  const reused = Object.keys(pkiDir.authorities);
  out.info(
    `rendered cluster "${spec.name}" (Kubernetes ${spec.kubernetesVersion.text}, ${spec.kubeadmApiVersion}) ` +
      `for ${spec.hosts.length} hosts into ${options.output}`,
  );
  for (const host of rendered.plan.hosts) {
    const after = host.afterKubeadm.files.length;
    out.info(
      `  ${host.address} ${host.hostname} ${host.master0 ? "master0" : host.role}: ${host.files.length} files, ` +
        `kubeadm ${host.kubeadm.command}${after > 0 ? `, then ${after} more` : ""}`,
    );
  }
  out.info(`CA pin for kubeadm join: ${rendered.caCertHash}`);
  if (reused.length > 0) out.info(`reused from ${options.pkiDir}: ${reused.join(", ")}`);
  if (options.pkiDir !== undefined && rendered.newPkiDirFiles.length > 0) {
    out.info(`added to ${options.pkiDir}: ${rendered.newPkiDirFiles.map((file) => file.relativePath).join(", ")}`);
  }
}
