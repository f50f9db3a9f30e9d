import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildStatusReport, renderStatusJson, renderStatusTable, type HostAnswer, type StatusCluster } from "../src/status/status-report.ts";

const NOW = new Date("2026-12-05T12:00:00Z");
const CLUSTER: StatusCluster = {
  name: "prod",
  phase: "ClusterSuccess",
  kubernetesVersion: "v1.37.1",
  hosts: [
    { address: "192.168.0.2", hostname: "cp-1", role: "master", master0: true, lastStep: { type: "CopyClusterfile/192.168.0.2", status: "True" } },
    { address: "192.168.0.3", hostname: "cp-2", role: "master" },
    { address: "192.168.0.10", hostname: "w-1", role: "worker" },
    { address: "192.168.0.11", hostname: "w-2", role: "worker" },
  ],
};
const LONG = [{ name: "apiserver", notAfter: "2125-11-11T12:00:00.000Z" }];
const healthyMaster = (address: string): HostAnswer => ({
  address, reachable: true, kubeadm: "done", kubelet: "healthy", apiServer: "healthy", versions: { kubelet: "v1.37.1" }, certificates: LONG,
});
const healthyWorker = (address: string): HostAnswer => ({
  address, reachable: true, kubeadm: "done", kubelet: "healthy", lvscarePod: true, versions: { kubelet: "v1.37.1" },
});

describe("seal status report", () => {
  it("a healthy cluster: no problems, ok, an aligned table and a summary line", () => {
    const report = buildStatusReport(CLUSTER, [healthyMaster("192.168.0.2"), healthyMaster("192.168.0.3"), healthyWorker("192.168.0.10"), healthyWorker("192.168.0.11")], { now: NOW });
    assert.equal(report.ok, true);
    assert.deepEqual(report.hosts.map((host) => host.problems), [[], [], [], []]);
    assert.equal(
      renderStatusTable(report),
      [
        "HOST          NAME  ROLE     SSH  KUBEADM  KUBELET  APISERVER  LVSCARE  VERSION  CERTS UNTIL  LAST STEP             PROBLEMS",
        "192.168.0.2   cp-1  master0  ok   done     ok       ok         -        v1.37.1  2125-11-11   CopyClusterfile done  -",
        "192.168.0.3   cp-2  master   ok   done     ok       ok         -        v1.37.1  2125-11-11   -                     -",
        "192.168.0.10  w-1   worker   ok   done     ok       -          ok       v1.37.1  -            -                     -",
        "192.168.0.11  w-2   worker   ok   done     ok       -          ok       v1.37.1  -            -                     -",
        'cluster "prod" (Kubernetes v1.37.1): ClusterSuccess, 4 hosts, all healthy',
        "",
      ].join("\n"),
    );
  });

  it("names every problem: unreachable, no answer, failed apiserver, missing pod, version skew, expiring and expired certificates", () => {
    const report = buildStatusReport(
      CLUSTER,
      [
        { ...healthyMaster("192.168.0.2"), apiServer: "unhealthy", certificates: [...LONG, { name: "admin.conf", notAfter: "2026-12-20T00:00:00.000Z" }, { name: "etcd/peer", notAfter: "2026-12-01T00:00:00.000Z" }] },
        { address: "192.168.0.3", reachable: false, error: "connect ECONNREFUSED 192.168.0.3:22" },
        { ...healthyWorker("192.168.0.10"), lvscarePod: false, versions: { kubelet: "v1.36.4" } },
        { ...healthyWorker("10.9.9.9") },
      ],
      { now: NOW },
    );
    assert.equal(report.ok, false);
    assert.deepEqual(report.hosts.map((host) => host.problems), [
      ["apiserver unhealthy", "etcd/peer expired 2026-12-01T00:00:00.000Z", "admin.conf expires 2026-12-20T00:00:00.000Z"],
      ["unreachable: connect ECONNREFUSED 192.168.0.3:22"],
      ["lvscare static pod missing", "kubelet v1.36.4, cluster v1.37.1"],
      ["no answer"],
    ]);
    assert.equal(report.hosts[0]?.firstExpiry?.name, "etcd/peer");
    assert.deepEqual(report.unknownHosts, ["10.9.9.9"]);
    const table = renderStatusTable(report);
    assert.match(table, /^192\.168\.0\.3 +cp-2 +master +FAIL +- +- +- +- +- +- +- +unreachable: connect ECONNREFUSED/m);
    assert.match(table, /^192\.168\.0\.11 +w-2 +worker +\? /m);
    assert.match(table, /4 hosts, 4 with problems\nanswers from hosts not in the cluster: 10\.9\.9\.9\n$/);
  });

  it("the Clusterfile's side: a failed last step, kubeadm not done, a host answering with another name", () => {
    const cluster: StatusCluster = {
      ...CLUSTER,
      phase: "ClusterFailed",
      hosts: [{ address: "192.168.0.2", hostname: "cp-1", role: "master", master0: true, lastStep: { type: "InstallMaster0/192.168.0.2", status: "False", message: "kubeadm init exited 1" } }],
    };
    const report = buildStatusReport(cluster, [{ ...healthyMaster("192.168.0.2"), hostname: "other", kubeadm: "not done" }], { now: NOW });
    assert.deepEqual(report.hosts[0]?.problems, ["InstallMaster0 failed: kubeadm init exited 1", "hostname other, expected cp-1", "kubeadm not done"]);
    const table = renderStatusTable(report);
    assert.match(table, /^192\.168\.0\.2 +other +master0 +ok +not done +ok +ok +- +v1\.37\.1 +2125-11-11 +InstallMaster0 failed +InstallMaster0 failed: kubeadm init exited 1; /m);
    assert.match(table, /cluster "prod" \(Kubernetes v1\.37\.1\): ClusterFailed, 1 hosts, 1 with problems\n$/);
  });

  it("--json is the report itself, and round-trips", () => {
    const report = buildStatusReport(CLUSTER, [healthyMaster("192.168.0.2")], { now: NOW, expiryWarningDays: 7 });
    const json = JSON.parse(renderStatusJson(report)) as typeof report;
    assert.deepEqual(json, JSON.parse(JSON.stringify(report)));
    assert.equal(json.checkedAt, "2026-12-05T12:00:00.000Z");
    assert.equal(json.hosts[2]?.lvscarePod, undefined);
    assert.equal(json.hosts[0]?.apiServer, "healthy");
  });
});
