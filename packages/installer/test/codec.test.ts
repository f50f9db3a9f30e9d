import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigDecodeError, decodeConfigFile, encodeConfigFile } from "../src/kubeadm/documents.ts";

function problems(text: string): readonly string[] {
  try {
    decodeConfigFile(text);
  } catch (error) {
    assert.ok(error instanceof ConfigDecodeError, String(error));
    return error.problems;
  }
  assert.fail("expected the file to be refused");
}

// A configuration a user could hand to kubeadm 1.31, using fields seal itself never writes.
const HAND_WRITTEN_V1BETA4 = `apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.31.2
controlPlaneEndpoint: apiserver.cluster.local:6443
imageRepository: registry.example.com/k8s
featureGates:
  ControlPlaneKubeletLocalMode: true
apiServer:
  certSANs: [127.0.0.1]
  extraArgs:
  - name: audit-log-path
    value: /var/log/audit.log
  - name: audit-log-path
    value: /var/log/audit2.log
  extraVolumes:
  - name: audit
    hostPath: /var/log
    mountPath: /var/log
    pathType: DirectoryOrCreate
  extraEnvs:
  - name: HTTPS_PROXY
    value: http://proxy:3128
  - name: NODE
    valueFrom:
      fieldRef:
        fieldPath: spec.nodeName
etcd:
  local:
    dataDir: /var/lib/etcd
    extraArgs:
    - name: quota-backend-bytes
      value: "8589934592"
    serverCertSANs: [etcd.example.com]
dns:
  disabled: false
proxy:
  disabled: false
certificateValidityPeriod: 8760h0m0s
encryptionAlgorithm: ECDSA-P256
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    token: abcdef.0123456789abcdef
    apiServerEndpoint: 10.0.0.1:6443
    unsafeSkipCAVerification: true
  tlsBootstrapToken: abcdef.0123456789abcdef
timeouts:
  discovery: 5m0s
  tlsBootstrap: 5m
nodeRegistration:
  taints: []
  imagePullPolicy: IfNotPresent
  imagePullSerial: false
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
evictionHard:
  memory.available: 100Mi
shutdownGracePeriodByPodPriority:
- priority: 100000
  shutdownGracePeriodSeconds: 30
logging:
  format: json
  flushFrequency: 5s
  options:
    json:
      infoBufferSize: 1Mi
reservedMemory:
- numaNode: 0
  limits:
    memory: 1Gi
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: ipvs
ipvs:
  scheduler: rr
  strictARP: true
conntrack:
  maxPerCore: 0
clientConnection:
  qps: 5.5
`;

describe("strict decoding of kubeadm configuration", () => {
  it("accepts a valid hand-written file, including fields seal does not write", () => {
    const documents = decodeConfigFile(HAND_WRITTEN_V1BETA4);
    assert.deepEqual(
      documents.map((document) => document.kind),
      ["ClusterConfiguration", "JoinConfiguration", "KubeletConfiguration", "KubeProxyConfiguration"],
    );
    // Re-encoding sorts keys but keeps every value: decoding the result gives the same objects.
    assert.deepEqual(decodeConfigFile(encodeConfigFile(documents)), documents);
  });

  it("refuses unknown and misspelt fields with their path, suggesting the right name", () => {
    const found = problems(`apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAdress: 10.0.0.1
  BindPort: 6443
nodeRegistration:
  kubeletExtraArgs:
  - name: node-ip
    value: 10.0.0.1
    vaule: x
extra: true
`);
    assert.deepEqual(found, [
      'document 1 (InitConfiguration): unknown field "localAPIEndpoint.advertiseAdress" (did you mean "advertiseAddress"?)',
      'document 1 (InitConfiguration): unknown field "localAPIEndpoint.BindPort" (did you mean "bindPort"?)',
      'document 1 (InitConfiguration): unknown field "nodeRegistration.kubeletExtraArgs[0].vaule" (did you mean "value"?)',
      'document 1 (InitConfiguration): unknown field "extra"',
    ]);
  });

  it("tells the versions apart: v1beta3 fields in v1beta4 and the other way round are errors", () => {
    assert.deepEqual(
      problems(`apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
apiServer:
  timeoutForControlPlane: 4m0s
controllerManager:
  extraArgs:
    cluster-signing-duration: 876000h
`),
      [
        'document 1 (ClusterConfiguration): unknown field "apiServer.timeoutForControlPlane"',
        "document 1 (ClusterConfiguration): controllerManager.extraArgs: expected a list of object Arg, got an object",
      ],
    );
    assert.deepEqual(
      problems(`apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
certificateValidityPeriod: 876000h0m0s
`),
      ['document 1 (ClusterConfiguration): unknown field "certificateValidityPeriod"'],
    );
  });

  it("refuses wrong types, bad durations, missing required fields and unknown kinds", () => {
    assert.deepEqual(
      problems(`apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
nodeRegistration:
  name: 42
caCertPath: [a]
timeouts:
  discovery: 5 minutes
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
controlPlane:
  localAPIEndpoint:
    bindPort: "6443"
---
apiVersion: kubeadm.k8s.io/v1beta2
kind: InitConfiguration
---
kind: KubeletConfiguration
`),
      [
        "document 1 (JoinConfiguration): nodeRegistration.name: expected string, got number 42",
        "document 1 (JoinConfiguration): caCertPath: expected string, got a list",
        'document 1 (JoinConfiguration): timeouts.discovery: expected duration (like 24h0m0s), got string "5 minutes"',
        'document 1 (JoinConfiguration): missing required field "discovery"',
        'document 2 (JoinConfiguration): controlPlane.localAPIEndpoint.bindPort: expected int32, got string "6443"',
        'document 2 (JoinConfiguration): missing required field "discovery"',
        "document 3: unknown kind InitConfiguration in kubeadm.k8s.io/v1beta2",
        "document 4: apiVersion and kind must both be set",
      ],
    );
  });

  it("refuses duplicate keys and reads YAML 1.1 booleans as go-yaml does", () => {
    const duplicate = problems("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nfailSwapOn: true\nfailSwapOn: false\n");
    assert.equal(duplicate.length, 1);
    assert.match(duplicate[0] ?? "", /^document 1: Map keys must be unique/);
    // `yes` is a boolean in YAML 1.1, so it fits a bool field and not a string one.
    decodeConfigFile("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nfailSwapOn: yes\n");
    assert.deepEqual(problems("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: on\n"), [
      'document 1 (KubeletConfiguration): cgroupDriver: expected one of "systemd", "cgroupfs", got boolean true',
    ]);
  });

  it("writes strings that YAML 1.1 would misread with quotes", () => {
    const text = encodeConfigFile([{ apiVersion: "kubeadm.k8s.io/v1beta4", kind: "ClusterConfiguration", clusterName: "yes", kubernetesVersion: "1.31" }]);
    assert.match(text, /clusterName: "yes"/);
    assert.match(text, /kubernetesVersion: "1\.31"/);
    assert.deepEqual(decodeConfigFile(text), [
      { apiVersion: "kubeadm.k8s.io/v1beta4", kind: "ClusterConfiguration", clusterName: "yes", kubernetesVersion: "1.31" },
    ]);
  });
});
