/**
 * Golden files pin every rendered byte that is not key material, for one 3-master/2-worker
 * cluster on v1.30 (kubeadm v1beta3, kube-proxy iptables), v1.31 (v1beta4, ipvs) and v1.37
 * (v1beta4, nftables). Regenerate after an intended change
 * with UPDATE_GOLDEN=1 and review the diff.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LVSCARE_MANIFEST_PATH } from "@lvscare/contracts/names";
import { decodeConfigFile, encodeConfigFile } from "../src/kubeadm/documents.ts";
import { renderKubeadmDocuments } from "../src/kubeadm/render.ts";
import { PLAN_FILE_NAME } from "../src/plan/plan.ts";
import { clusterSpec, FIXED_SECRETS, hostPath, renderToTemporaryDir, type RenderedDir } from "./helpers/fixtures.ts";

const GOLDEN_DIR = join(import.meta.dirname, "golden");
const UPDATE = process.env["UPDATE_GOLDEN"] === "1";

function matchesGolden(relativePath: string, actual: string): void {
  const path = join(GOLDEN_DIR, relativePath);
  if (UPDATE) {
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  let expected: string;
  try {
    expected = readFileSync(path, "utf8");
  } catch {
    assert.fail(`golden file ${path} is missing; create it with UPDATE_GOLDEN=1 and review it`);
  }
  assert.equal(actual, expected, `${relativePath} differs from its golden file`);
}

// One kube-proxy mode per version, so each mode's KubeProxyConfiguration and lvscare pod are pinned.
for (const [version, apiVersion, kubeProxyMode] of [
  ["v1.30.6", "kubeadm.k8s.io/v1beta3", "iptables"],
  ["v1.31.2", "kubeadm.k8s.io/v1beta4", "ipvs"],
  ["v1.37.1", "kubeadm.k8s.io/v1beta4", "nftables"],
] as const) {
  const minor = version.split(".").slice(0, 2).join(".");
  describe(`kubeadm configuration for ${version}, kube-proxy ${kubeProxyMode}`, () => {
    const spec = clusterSpec({ kubernetesVersion: version, kubeProxyMode });
    let render: RenderedDir;
    before(async () => {
      render = await renderToTemporaryDir(spec);
    });
    after(() => render.cleanup());

    for (const host of spec.hosts) {
      const name = `${host.hostname}.${host.master0 ? "init" : "join"}.yaml`;

      it(`${name} matches its golden file and round-trips through strict decoding`, () => {
        const documents = renderKubeadmDocuments(spec, host, FIXED_SECRETS);
        assert.ok(documents.every((document) => !document.apiVersion.startsWith("kubeadm") || document.apiVersion === apiVersion));
        const text = encodeConfigFile(documents);
        matchesGolden(`${minor}/${name}`, text);
        const decoded = decodeConfigFile(text);
        assert.deepEqual(decoded, documents);
        assert.equal(encodeConfigFile(decoded), text);
      });

      it(`${name} on disk is the golden file with this render's token and CA pin`, () => {
        const config = render.rendered.plan.hosts.find((planned) => planned.address === host.addressText)?.kubeadm.config;
        assert.ok(config !== undefined);
        const onDisk = readFileSync(hostPath(render.dir, host.addressText, config), "utf8");
        const token = /token: ([a-z0-9]{6}\.[a-z0-9]{16})/.exec(onDisk)?.[1];
        assert.ok(token !== undefined && token !== FIXED_SECRETS.bootstrapToken, "a random bootstrap token was rendered");
        const pinned = onDisk.replaceAll(token, FIXED_SECRETS.bootstrapToken).replaceAll(render.rendered.caCertHash, FIXED_SECRETS.caCertHash);
        assert.equal(pinned, encodeConfigFile(renderKubeadmDocuments(spec, host, FIXED_SECRETS)));
      });
    }

    it("plan.json matches its golden file", () => {
      matchesGolden(`${minor}/plan.json`, readFileSync(join(render.dir, PLAN_FILE_NAME), "utf8"));
    });

    it("the workers' lvscare static pods match their golden files", () => {
      for (const host of spec.hosts.filter((candidate) => candidate.role === "worker")) {
        matchesGolden(
          `${minor}/${host.hostname}.kube-sealos-lvscare.yaml`,
          readFileSync(hostPath(render.dir, host.addressText, LVSCARE_MANIFEST_PATH), "utf8"),
        );
      }
    });
  });
}
