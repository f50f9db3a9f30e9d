/** Kubeconfig files as kubeadm and the kubelet read and write them (first cluster, first user). */
import { readFileSync } from "node:fs";
import { parse, stringify } from "yaml";

export interface KubeconfigCredentials {
  /** `https://host:port` */
  readonly server: string;
  readonly caPem: string;
  readonly certPem?: string;
  readonly keyPem?: string;
  readonly token?: string;
}

export class KubeconfigError extends Error {}

type Named<T> = { name?: string } & T;

export function parseKubeconfig(text: string, path: string): KubeconfigCredentials {
  const doc = parse(text) as {
    clusters?: Named<{ cluster?: Record<string, unknown> }>[];
    users?: Named<{ user?: Record<string, unknown> }>[];
    contexts?: Named<{ context?: { cluster?: string; user?: string } }>[];
    "current-context"?: string;
  } | null;
  const context = doc?.contexts?.find((entry) => entry.name === doc["current-context"])?.context;
  const cluster = (doc?.clusters?.find((entry) => entry.name === context?.cluster) ?? doc?.clusters?.[0])?.cluster;
  const user = (doc?.users?.find((entry) => entry.name === context?.user) ?? doc?.users?.[0])?.user ?? {};
  if (cluster === undefined || typeof cluster["server"] !== "string") throw new KubeconfigError(`${path}: no cluster with a server`);
  const data = (key: string, fileKey: string): string | undefined => {
    const inline = cluster[key] ?? user[key];
    if (typeof inline === "string") return Buffer.from(inline, "base64").toString();
    const file = cluster[fileKey] ?? user[fileKey];
    if (typeof file === "string") return readFileSync(file, "utf8");
    return undefined;
  };
  const caPem = data("certificate-authority-data", "certificate-authority");
  if (caPem === undefined) throw new KubeconfigError(`${path}: the cluster has no certificate authority`);
  const certPem = data("client-certificate-data", "client-certificate");
  const keyPem = data("client-key-data", "client-key");
  const token = typeof user["token"] === "string" ? user["token"] : undefined;
  return {
    server: cluster["server"],
    caPem,
    ...(certPem === undefined ? {} : { certPem }),
    ...(keyPem === undefined ? {} : { keyPem }),
    ...(token === undefined ? {} : { token }),
  };
}

export function readKubeconfig(path: string): KubeconfigCredentials {
  return parseKubeconfig(readFileSync(path, "utf8"), path);
}

export interface KubeconfigSpec {
  readonly clusterName: string;
  readonly server: string;
  readonly caPem: string;
  readonly userName: string;
  readonly user: Record<string, string>;
}

export function renderKubeconfigFile(spec: KubeconfigSpec): string {
  const context = `${spec.userName}@${spec.clusterName}`;
  return stringify({
    apiVersion: "v1",
    clusters: [{ cluster: { "certificate-authority-data": Buffer.from(spec.caPem).toString("base64"), server: spec.server }, name: spec.clusterName }],
    contexts: [{ context: { cluster: spec.clusterName, user: spec.userName }, name: context }],
    "current-context": context,
    kind: "Config",
    preferences: {},
    users: [{ name: spec.userName, user: spec.user }],
  });
}
