/**
 * A real TLS handshake with the rendered certificates. A network namespace gets the VIP, the
 * three master addresses and one stranger address on its loopback, and an /etc/hosts (ip netns
 * exec mounts /etc/netns/NAME/hosts) written by our hosts editor with apiserver.cluster.local ->
 * VIP, exactly as a worker has it. Each master's API server certificate is served; a client that
 * trusts only the rendered CA connects by name, by VIP and by each master IP, authenticating
 * with admin.conf's certificate (mTLS).
 */
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { setHostsEntries } from "../src/hosts/hosts-file.ts";
import { editHostsFile } from "../src/hosts/hosts-io.ts";
import { PKI_DIR } from "../src/plan/files.ts";
import { clusterSpec, hostPath, MASTERS, renderToTemporaryDir, VIP, type RenderedDir } from "./helpers/fixtures.ts";
import { createNamespace, type Namespace } from "./helpers/netns.ts";
import type { ProbeResult } from "./helpers/tls-probe.ts";
import { NODE, runOk } from "./helpers/tools.ts";

const STRANGER = "10.9.9.9";
const PORTS = [6441, 6442, 6443];

describe("TLS with the rendered certificates (network namespace, real sockets)", () => {
  let render: RenderedDir;
  let results: Map<string, ProbeResult>;
  let namespace: Namespace | undefined;

  before(async () => {
    render = await renderToTemporaryDir(clusterSpec());
    namespace = await createNamespace("seal-tls", [VIP, ...MASTERS, STRANGER]);
    const etc = join("/etc/netns", namespace.name);
    await mkdir(etc, { recursive: true });
    await writeFile(join(etc, "hosts"), "127.0.0.1\tlocalhost\n");
    const worker = render.rendered.plan.hosts.find((host) => host.role === "worker");
    assert.ok(worker !== undefined);
    const entries = worker.hostsEntries.flatMap((entry) => entry.names.map((name) => ({ name, ip: entry.ip })));
    await editHostsFile(join(etc, "hosts"), (text) => setHostsEntries(text, entries));

    const admin = await extractClientCredentials(hostPath(render.dir, "10.0.0.1", "/etc/kubernetes/admin.conf"));
    const pki = (address: string, name: string) => hostPath(render.dir, address, `${PKI_DIR}/${name}`);
    const ca = pki("10.0.0.1", "ca.crt");
    const attempts = PORTS.flatMap((port, index) => {
      const master = MASTERS[index] ?? "";
      const trusted = { port, ca, cert: admin.cert, key: admin.key };
      return [
        ...["apiserver.cluster.local", VIP, ...MASTERS, "localhost", "127.0.0.1"].map((host) => ({ label: `${master} by ${host}`, host, ...trusted })),
        { label: `${master} by stranger`, host: STRANGER, ...trusted },
        { label: `${master} without client certificate`, host: VIP, port, ca },
        { label: `${master} trusting front-proxy-ca`, host: VIP, ...trusted, ca: pki("10.0.0.1", "front-proxy-ca.crt") },
        {
          label: `${master} with a front-proxy client certificate`,
          host: VIP,
          ...trusted,
          cert: pki(master, "front-proxy-client.crt"),
          key: pki(master, "front-proxy-client.key"),
        },
      ];
    });
    const servers = PORTS.map((port, index) => ({
      port,
      cert: pki(MASTERS[index] ?? "", "apiserver.crt"),
      key: pki(MASTERS[index] ?? "", "apiserver.key"),
      clientCa: ca,
    }));
    const inputPath = join(render.dir, "..", "probe.json");
    await writeFile(inputPath, JSON.stringify({ servers, attempts }));
    const output = await runOk(...namespace.exec(NODE, [join(import.meta.dirname, "helpers", "tls-probe.ts"), inputPath]));
    results = new Map(
      output
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as ProbeResult)
        .map((result) => [result.label, result]),
    );
  });

  after(async () => {
    await namespace?.remove();
    await render?.cleanup();
  });

  function result(label: string): ProbeResult {
    const found = results.get(label);
    assert.ok(found !== undefined, `no result for ${label}`);
    return found;
  }

  for (const master of MASTERS) {
    it(`${master}'s API server certificate is accepted by name, VIP, every master IP and loopback, with mTLS as kubernetes-admin`, () => {
      for (const host of ["apiserver.cluster.local", VIP, ...MASTERS, "localhost", "127.0.0.1"]) {
        const outcome = result(`${master} by ${host}`);
        assert.ok(outcome.ok, `${master} by ${host}: ${outcome.error}`);
        assert.equal(outcome.server, "kube-apiserver");
        assert.deepEqual(outcome.peer, { CN: "kubernetes-admin", O: "kubeadm:cluster-admins" });
      }
    });

    it(`${master}: an address outside the SANs, a client without certificate, a wrong trust root and a foreign client CA all fail`, () => {
      assert.equal(result(`${master} by stranger`).error, "ERR_TLS_CERT_ALTNAME_INVALID");
      // Node's server sends the cluster CA along with the leaf (it is in its `ca` list), hence either code.
      assert.match(result(`${master} trusting front-proxy-ca`).error ?? "", /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)$/);
      for (const label of [`${master} without client certificate`, `${master} with a front-proxy client certificate`]) {
        const outcome = result(label);
        assert.equal(outcome.ok, false, `${label} must be refused by the server`);
        assert.match(outcome.error ?? "", /ECONNRESET|ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|ERR_SSL_TLSV1_ALERT_UNKNOWN_CA|socket hang up/);
      }
    });
  }
});

async function extractClientCredentials(kubeconfigPath: string): Promise<{ cert: string; key: string }> {
  const config = parse(await readFile(kubeconfigPath, "utf8")) as {
    users: { user: { "client-certificate-data": string; "client-key-data": string } }[];
  };
  const user = config.users[0]?.user;
  assert.ok(user !== undefined);
  const cert = `${kubeconfigPath}.crt`;
  const key = `${kubeconfigPath}.key`;
  await writeFile(cert, Buffer.from(user["client-certificate-data"], "base64"));
  await writeFile(key, Buffer.from(user["client-key-data"], "base64"), { mode: 0o600 });
  return { cert, key };
}
