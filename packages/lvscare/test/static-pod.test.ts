import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { renderLvscareStaticPod } from "../src/static-pod.ts";
import { UsageError } from "../src/errors.ts";

// What sealos v4/v5 (`sealctl static-pod lvscare`, Kubernetes' YAML serializer: sorted keys,
// `creationTimestamp: null`, empty resources/status) writes for three masters on a worker whose
// hosts file has `lvscare.node.ip`.
const SEALOS_MANIFEST = `apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: null
  name: kube-sealos-lvscare
  namespace: kube-system
spec:
  containers:
  - args:
    - care
    - --vs
    - 10.103.97.2:6443
    - --health-path
    - /healthz
    - --health-schem
    - https
    - --rs
    - 192.168.0.2:6443
    - --rs
    - 192.168.0.3:6443
    - --rs
    - 192.168.0.4:6443
    command:
    - /usr/bin/lvscare
    env:
    - name: LVSCARE_NODE_IP
      value: 192.168.0.10
    image: ghcr.io/labring/lvscare:v4.3.7
    imagePullPolicy: IfNotPresent
    name: kube-sealos-lvscare
    resources: {}
    securityContext:
      privileged: true
    volumeMounts:
    - mountPath: /lib/modules
      name: lib-modules
      readOnly: true
  hostNetwork: true
  priorityClassName: system-node-critical
  volumes:
  - hostPath:
      path: /lib/modules
      type: ""
    name: lib-modules
status: {}
`;

// Ours: sealos's pod plus resources (measured, see POD_RESOURCES), the V8 heap cap in NODE_OPTIONS,
// a read-only root filesystem, LVSCARE_TMPDIR and the tmpfs emptyDir it names (where the single-file executable unpacks koffi's
// native module).
const OUR_MANIFEST = SEALOS_MANIFEST.replace(
  "      value: 192.168.0.10\n",
  "      value: 192.168.0.10\n    - name: NODE_OPTIONS\n      value: --max-old-space-size=64 --max-semi-space-size=1 --jitless\n    - name: LVSCARE_TMPDIR\n      value: /tmp\n",
)
  .replace("    resources: {}\n", "    resources:\n      limits:\n        memory: 256Mi\n      requests:\n        cpu: 20m\n        memory: 80Mi\n")
  .replace("      privileged: true\n", "      privileged: true\n      readOnlyRootFilesystem: true\n")
  .replace("      readOnly: true\n", "      readOnly: true\n    - mountPath: /tmp\n      name: tmp\n")
  .replace("    name: lib-modules\nstatus", "    name: lib-modules\n  - emptyDir:\n      medium: Memory\n      sizeLimit: 16Mi\n    name: tmp\nstatus");

/** The parsed pod without what ours adds to sealos's: then the two must be equal. */
function withoutOurAdditions(yamlText: string): Record<string, unknown> {
  const pod = parse(yamlText) as { spec: { containers: Array<Record<string, unknown>>; volumes: Array<{ name: string }> } };
  const c = pod.spec.containers[0]!;
  const env = (c["env"] as Array<{ name: string }>).filter((e) => e.name !== "LVSCARE_TMPDIR" && e.name !== "NODE_OPTIONS");
  if (env.length > 0) c["env"] = env;
  else delete c["env"];
  c["resources"] = {};
  c["securityContext"] = { privileged: true };
  c["volumeMounts"] = (c["volumeMounts"] as Array<{ name: string }>).filter((m) => m.name !== "tmp");
  pod.spec.volumes = pod.spec.volumes.filter((v) => v.name !== "tmp");
  return pod as unknown as Record<string, unknown>;
}

const base = {
  vip: "10.103.97.2:6443",
  masters: ["192.168.0.2:6443", "192.168.0.3:6443", "192.168.0.4:6443"],
  image: "ghcr.io/labring/lvscare:v4.3.7",
};

interface Container {
  args: string[];
  name: string;
  livenessProbe?: { httpGet: { host?: string; path: string; port: number; scheme: string } };
}
function container(yamlText: string): Container {
  const pod = parse(yamlText) as { spec: { containers: Container[] } };
  const first = pod.spec.containers[0];
  assert.ok(first, "manifest has a container");
  return first;
}

describe("renderLvscareStaticPod", () => {
  it("writes sealos's manifest, in its format, plus resources and the unpack directory", () => {
    const ours = renderLvscareStaticPod({ ...base, nodeIp: "192.168.0.10" });
    assert.equal(ours, OUR_MANIFEST);
    assert.deepEqual(withoutOurAdditions(ours), parse(SEALOS_MANIFEST));
  });

  it("parses back to sealos's pod without the legacy env when no node IP is given", () => {
    const ours = withoutOurAdditions(renderLvscareStaticPod(base));
    const theirs = parse(SEALOS_MANIFEST) as { spec: { containers: Array<Record<string, unknown>> } };
    delete theirs.spec.containers[0]?.["env"];
    assert.deepEqual(ours, theirs);
  });

  it("uses the given name for pod and container", () => {
    const yamlText = renderLvscareStaticPod({ ...base, name: "kube-sealyun-lvscare" });
    const pod = parse(yamlText) as { metadata: { name: string } };
    assert.equal(pod.metadata.name, "kube-sealyun-lvscare");
    assert.equal(container(yamlText).name, "kube-sealyun-lvscare");
  });

  it("appends options after sealos's arguments", () => {
    const c = container(renderLvscareStaticPod({ ...base, options: ["--mode", "link", "--fall=3"] }));
    assert.deepEqual(c.args.slice(-3), ["--mode", "link", "--fall=3"]);
    assert.equal(c.livenessProbe, undefined);
  });

  it("adds --metrics-addr and a liveness probe on /healthz at that address", () => {
    const c = container(renderLvscareStaticPod({ ...base, metricsAddr: "127.0.0.1:9090" }));
    assert.deepEqual(c.args.slice(-2), ["--metrics-addr", "127.0.0.1:9090"]);
    assert.deepEqual(c.livenessProbe?.httpGet, { host: "127.0.0.1", path: "/healthz", port: 9090, scheme: "HTTP" });
  });

  it("finds --metrics-addr inside options and probes the node address when it listens on all", () => {
    const c = container(renderLvscareStaticPod({ ...base, options: ["--metrics-addr=0.0.0.0:9192"] }));
    assert.deepEqual(c.livenessProbe?.httpGet, { path: "/healthz", port: 9192, scheme: "HTTP" });
    const c2 = container(renderLvscareStaticPod({ ...base, options: ["--metrics-addr", ":9193"] }));
    assert.equal(c2.livenessProbe?.httpGet.port, 9193);
  });

  it("keeps IPv6 addresses as given", () => {
    const c = container(renderLvscareStaticPod({ vip: "[fd00::10]:6443", masters: ["[fd00::2]:6443"], image: "img:1" }));
    assert.deepEqual(c.args.slice(0, 3), ["care", "--vs", "[fd00::10]:6443"]);
    assert.deepEqual(c.args.slice(-2), ["--rs", "[fd00::2]:6443"]);
  });

  const bad: Array<[string, Parameters<typeof renderLvscareStaticPod>[0], RegExp]> = [
    ["vip without port", { ...base, vip: "10.103.97.2" }, /--vs: "10.103.97.2" has no port/],
    ["invalid master IP", { ...base, masters: ["192.168.0.300:6443"] }, /--rs: "192.168.0.300".*not a valid IP/],
    ["no masters", { ...base, masters: [] }, /at least one real server/],
    ["duplicate master", { ...base, masters: ["192.168.0.2:6443", "192.168.0.2:6443"] }, /listed twice/],
    ["vip among masters", { ...base, masters: ["10.103.97.2:6443"] }, /is the virtual server itself/],
    ["mixed families", { ...base, masters: ["[fd00::2]:6443"] }, /IPv6 but --vs .* is IPv4/],
    ["empty image", { ...base, image: " " }, /--image/],
    ["bad name", { ...base, name: "Kube_LVS" }, /--name: "Kube_LVS" is not a valid pod name/],
    ["--rs inside options", { ...base, options: ["--rs", "1.1.1.1:1"] }, /come from --vip and --masters/],
    ["metrics twice", { ...base, metricsAddr: ":1", options: ["--metrics-addr", ":2"] }, /both directly and inside/],
    ["bad metrics addr", { ...base, metricsAddr: "localhost" }, /--metrics-addr/],
  ];
  for (const [title, opts, message] of bad) {
    it(`refuses ${title}`, () => {
      assert.throws(() => renderLvscareStaticPod(opts), (err: unknown) => err instanceof UsageError && message.test(err.message));
    });
  }
});
