import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildClusterSpec, defaultHostname, type ClusterInput } from "../src/cluster/validate.ts";
import { parseValidity } from "../src/cluster/duration.ts";
import { InputError } from "../src/errors.ts";
import { clusterInput } from "./helpers/fixtures.ts";

function refuses(overrides: Partial<ClusterInput>, message: RegExp): void {
  assert.throws(
    () => buildClusterSpec(clusterInput(overrides)),
    (error: unknown) => error instanceof InputError && message.test(error.message) && !error.message.includes("\n"),
    `expected an InputError matching ${message}`,
  );
}

describe("cluster validation", () => {
  it("builds the spec with master0 first, then masters, then workers, with defaults filled in", () => {
    const spec = buildClusterSpec({ masters: ["10.0.0.1", "10.0.0.2", "10.0.0.3"], nodes: ["10.0.0.11"] });
    assert.deepEqual(
      spec.hosts.map((host) => [host.addressText, host.role, host.master0, host.hostname]),
      [
        ["10.0.0.1", "master", true, "ip-10-0-0-1"],
        ["10.0.0.2", "master", false, "ip-10-0-0-2"],
        ["10.0.0.3", "master", false, "ip-10-0-0-3"],
        ["10.0.0.11", "worker", false, "ip-10-0-0-11"],
      ],
    );
    assert.equal(spec.name, "default");
    assert.equal(spec.kubernetesVersion.text, "v1.37.1");
    assert.equal(spec.kubeadmApiVersion, "kubeadm.k8s.io/v1beta4");
    assert.equal(spec.kubeProxyMode, "iptables");
    assert.equal(spec.certValidityHours, 99 * 365 * 24);
    assert.equal(spec.keyAlgorithm, "rsa-2048");
  });

  it("chooses the kubeadm API by Kubernetes version and refuses versions before 1.22", () => {
    const api = (version: string) => buildClusterSpec(clusterInput({ kubernetesVersion: version })).kubeadmApiVersion;
    assert.equal(api("v1.22.0"), "kubeadm.k8s.io/v1beta3");
    assert.equal(api("1.30.6"), "kubeadm.k8s.io/v1beta3");
    assert.equal(api("v1.31.0"), "kubeadm.k8s.io/v1beta4");
    assert.equal(api("v1.35.1"), "kubeadm.k8s.io/v1beta4");
    refuses({ kubernetesVersion: "v1.21.14" }, /--kubernetes-version: Kubernetes v1\.21\.14 is not supported: .*v1beta3 \(v1\.22 to v1\.30\)/);
    refuses({ kubernetesVersion: "v2.0.0" }, /not supported/);
    refuses({ kubernetesVersion: "latest" }, /is not a release version like v1\.31\.2/);
    refuses({ kubernetesVersion: "v1.31" }, /not a release version/);
  });

  it("takes the kube-proxy modes each version supports and refuses the others with the reason", () => {
    const mode = (kubeProxyMode: string, kubernetesVersion: string) =>
      buildClusterSpec(clusterInput({ kubeProxyMode, kubernetesVersion })).kubeProxyMode;
    assert.equal(mode("iptables", "v1.22.0"), "iptables");
    assert.equal(mode("ipvs", "v1.30.6"), "ipvs");
    assert.equal(mode("ipvs", "v1.39.0"), "ipvs");
    assert.equal(mode("nftables", "v1.31.0"), "nftables");
    assert.equal(mode("nftables", "v1.37.1"), "nftables");
    refuses({ kubeProxyMode: "nftables", kubernetesVersion: "v1.30.6" }, /--kube-proxy-mode nftables needs Kubernetes v1\.31 or later .*alpha and off by default in v1\.30\.6/);
    refuses({ kubeProxyMode: "ipvs", kubernetesVersion: "v1.40.0" }, /--kube-proxy-mode ipvs: .*off by default from v1\.40/);
    refuses({ kubeProxyMode: "userspace" }, /--kube-proxy-mode: "userspace" is not one of iptables, nftables, ipvs/);
  });

  it("refuses bad, duplicate and conflicting addresses", () => {
    refuses({ masters: ["10.0.0.1", "10.0.0.300", "10.0.0.3"] }, /--masters: "10\.0\.0\.300" is not an IP address/);
    refuses({ masters: ["10.0.0.1", "10.0.0.1", "10.0.0.3"] }, /--masters: 10\.0\.0\.1 is listed twice/);
    refuses({ nodes: ["10.0.0.11", "10.0.0.11"] }, /--nodes: 10\.0\.0\.11 is listed twice/);
    refuses({ nodes: ["10.0.0.2"] }, /10\.0\.0\.2 is listed both in --masters and in --nodes/);
    refuses({ masters: [] }, /at least one master/);
    refuses({ masters: ["127.0.0.1"] }, /--masters: 127\.0\.0\.1 is a loopback address/);
    refuses({ nodes: ["fd00::1"] }, /mixes IPv6 with the IPv4 masters/);
  });

  it("wants an odd number of masters unless told otherwise", () => {
    refuses({ masters: ["10.0.0.1", "10.0.0.2"], hostnames: [] }, /--masters: 2 masters .*--allow-even-masters/);
    const spec = buildClusterSpec(clusterInput({ masters: ["10.0.0.1", "10.0.0.2"], hostnames: [], allowEvenMasters: true }));
    assert.equal(spec.hosts.filter((host) => host.role === "master").length, 2);
  });

  it("keeps the VIP out of the pod and service networks and off every host", () => {
    refuses({ vip: "10.96.0.10" }, /--vip 10\.96\.0\.10 lies inside --service-cidr 10\.96\.0\.0\/22/);
    refuses({ vip: "100.64.1.1" }, /--vip 100\.64\.1\.1 lies inside --pod-cidr 100\.64\.0\.0\/10/);
    refuses({ vip: "10.0.0.11" }, /--vip 10\.0\.0\.11 is also a host address/);
    refuses({ vip: "not-an-ip" }, /--vip: "not-an-ip" is not an IP address/);
  });

  it("checks the networks themselves", () => {
    refuses({ podCidr: "10.96.0.0/16" }, /--pod-cidr 10\.96\.0\.0\/16 overlaps --service-cidr 10\.96\.0\.0\/22/);
    refuses({ serviceCidr: "10.96.0.1/22" }, /--service-cidr: "10\.96\.0\.1\/22" is not a CIDR block \(host bits set/);
    refuses({ serviceCidr: "10.0.0.0/8" }, /--service-cidr: 10\.0\.0\.0\/8 must have between 4 and 20 host bits/);
    refuses({ podCidr: "10.0.0.0/24" }, /host 10\.0\.0\.1 lies inside --pod-cidr/);
    refuses({ dnsDomain: "Cluster_Local" }, /--dns-domain/);
  });

  it("checks names, SANs and the other flags", () => {
    refuses({ hostnames: ["10.0.0.1=Master_1"] }, /--hostnames: "Master_1" is not a valid node name/);
    refuses({ hostnames: ["10.0.0.9=m9"] }, /--hostnames: 10\.0\.0\.9 is neither in --masters nor in --nodes/);
    refuses({ hostnames: ["10.0.0.1=same", "10.0.0.2=same"] }, /--hostnames: 10\.0\.0\.1 and 10\.0\.0\.2 are both named "same"/);
    refuses({ hostnames: ["master-1"] }, /--hostnames: "master-1" is not IP=NAME/);
    refuses({ certSans: ["bad name!"] }, /--cert-sans: "bad name!" is neither an IP address nor a DNS name/);
    refuses({ keyAlgorithm: "dsa" }, /--key-algorithm: "dsa" is not one of rsa-2048, ecdsa-p256/);
    refuses({ certValidity: "99 years" }, /--cert-validity: "99 years" is not a duration/);
    refuses({ cluster: "My Cluster" }, /--cluster/);
    refuses({ lvscareImage: "a b" }, /--lvscare-image/);
    refuses({ criSocket: "/run/containerd.sock" }, /--cri-socket/);
    refuses({ cgroupDriver: "cgroupv2" }, /--cgroup-driver/);
  });

  it("canonicalizes SANs and accepts wildcard DNS names", () => {
    const spec = buildClusterSpec(clusterInput({ certSans: ["*.Example.com", "2001:DB8::1", "10.1.1.1", "10.1.1.1"] }));
    // The IPv6 SAN of an IPv4 cluster is allowed: a certificate may name any address.
    assert.deepEqual(spec.extraCertSans, ["*.example.com", "2001:db8::1", "10.1.1.1"]);
  });

  it("accepts a single-stack IPv6 cluster", () => {
    const spec = buildClusterSpec({
      masters: ["fd00::1"],
      nodes: ["fd00::11"],
      vip: "fd00:10::2",
      podCidr: "fd00:100::/56",
      serviceCidr: "fd00:200::/112",
    });
    assert.equal(spec.hosts[0]?.hostname, "ip-fd00--1");
  });
});

describe("small parsers", () => {
  it("reads validities in years, days and hours", () => {
    assert.equal(parseValidity("99y"), 867240);
    assert.equal(parseValidity("3650d"), 87600);
    assert.equal(parseValidity("876000h"), 876000);
    assert.deepEqual(parseValidity("0h"), { error: '"0h" is not a duration like 99y, 3650d or 876000h' });
    assert.deepEqual(parseValidity("6000y"), { error: '"6000y" is too long' });
  });

  it("derives node names that are valid RFC 1123 names", () => {
    assert.equal(defaultHostname("192.168.1.20"), "ip-192-168-1-20");
    assert.equal(defaultHostname("fd00:1::"), "ip-fd00-1--0");
  });
});
