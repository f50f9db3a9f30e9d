/**
 * The certs and kubeconfig phases against a PKI that is already on disk (the installer renders
 * all of it): every CA is a CA whose key matches, every leaf chains to its CA (`openssl
 * verify`), matches its key and carries the names kubeadm would have put in it; every
 * kubeconfig embeds the cluster CA and a client certificate that chains to it. A missing file is
 * refused: the real kubeadm would generate it, the fake never generates certificates.
 */
import { existsSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { canonicalIp, certificatePemFromFile, certificatePublicKey, chainError, privateKeyPublicKey, publicKeyFile, readCertificate, withPemFiles } from "../lib/openssl.ts";
import { parseKubeconfig } from "../lib/kubeconfig.ts";
import { phaseError, say, warn } from "./output.ts";

export interface NodePki {
  readonly certificatesDir: string;
  readonly nodeName: string;
  readonly advertiseAddress: string;
  readonly serviceSubnet: string;
  readonly dnsDomain: string;
  readonly controlPlaneEndpoint?: string;
  readonly certSANs: readonly string[];
  readonly etcdServerCertSANs: readonly string[];
  readonly etcdPeerCertSANs: readonly string[];
  readonly localEtcd: boolean;
}

/** The first address of the service range: the `kubernetes` Service's cluster IP. */
export function firstServiceIp(serviceSubnet: string): string {
  const cidr = serviceSubnet.split(",")[0] ?? "";
  const [address] = cidr.split("/");
  if (address === undefined || isIP(address) !== 4) return canonicalIp(`${address?.replace(/::$/, "::") ?? ""}1`);
  const octets = address.split(".").map(Number);
  const value = ((octets[0] ?? 0) * 2 ** 24 + (octets[1] ?? 0) * 2 ** 16 + (octets[2] ?? 0) * 2 ** 8 + (octets[3] ?? 0) + 1) >>> 0;
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join(".");
}

interface Leaf {
  readonly name: string;
  readonly ca: string;
  readonly dns: readonly string[];
  readonly ips: readonly string[];
}

function leaves(node: NodePki): Leaf[] {
  const endpointHost = node.controlPlaneEndpoint?.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  const sanLists = (extra: readonly string[]) => ({
    dns: extra.filter((san) => isIP(san) === 0),
    ips: extra.filter((san) => isIP(san) !== 0).map(canonicalIp),
  });
  const apiExtra = sanLists([...(endpointHost === undefined ? [] : [endpointHost]), ...node.certSANs]);
  const leavesList: Leaf[] = [
    {
      name: "apiserver",
      ca: "ca",
      dns: [node.nodeName, "kubernetes", "kubernetes.default", "kubernetes.default.svc", `kubernetes.default.svc.${node.dnsDomain}`, ...apiExtra.dns],
      ips: [firstServiceIp(node.serviceSubnet), canonicalIp(node.advertiseAddress), ...apiExtra.ips],
    },
    { name: "apiserver-kubelet-client", ca: "ca", dns: [], ips: [] },
    { name: "front-proxy-client", ca: "front-proxy-ca", dns: [], ips: [] },
  ];
  if (node.localEtcd) {
    const server = sanLists(node.etcdServerCertSANs);
    const peer = sanLists(node.etcdPeerCertSANs);
    const own = { dns: [node.nodeName, "localhost"], ips: [canonicalIp(node.advertiseAddress), "127.0.0.1", "::1"] };
    leavesList.push(
      { name: "apiserver-etcd-client", ca: "etcd/ca", dns: [], ips: [] },
      { name: "etcd/server", ca: "etcd/ca", dns: [...own.dns, ...server.dns], ips: [...own.ips, ...server.ips] },
      { name: "etcd/peer", ca: "etcd/ca", dns: [...own.dns, ...peer.dns], ips: [...own.ips, ...peer.ips] },
      { name: "etcd/healthcheck-client", ca: "etcd/ca", dns: [], ips: [] },
    );
  }
  return leavesList;
}

function certsError(name: string, message: string) {
  return phaseError(`certs/${name.replace("/", "-")}`, message);
}

function requirePair(dir: string, name: string): { crt: string; key: string } {
  const crt = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  for (const path of [crt, key]) {
    if (!existsSync(path)) {
      throw certsError(name, `${path} is missing: the real kubeadm would generate it, this fake never generates certificates (render them with seal render)`);
    }
  }
  if (certificatePublicKey(crt) !== privateKeyPublicKey(key)) {
    throw certsError(name, `failure loading ${name} certificate authority: the key ${key} does not match the certificate ${crt} (openssl: public keys differ)`);
  }
  return { crt, key };
}

export function checkCertificates(node: NodePki): void {
  const dir = node.certificatesDir;
  for (const ca of ["ca", "front-proxy-ca", ...(node.localEtcd ? ["etcd/ca"] : [])]) {
    const { crt } = requirePair(dir, ca);
    if (!readCertificate(crt).isCA) throw certsError(ca, `certificate ${crt} is not a certificate authority`);
    say("certs", `Using existing ${ca} certificate authority`);
  }
  for (const leaf of leaves(node)) {
    const { crt } = requirePair(dir, leaf.name);
    const caPath = join(dir, `${leaf.ca}.crt`);
    const chain = chainError(caPath, crt);
    if (chain !== undefined) throw certsError(leaf.name, `certificate ${leaf.name} is not signed by corresponding CA (openssl verify against ${caPath}: ${chain})`);
    const names = readCertificate(crt);
    const validFor = [...names.dnsNames, ...names.ipAddresses].join(", ");
    for (const dns of leaf.dns) {
      if (!names.dnsNames.includes(dns)) throw certsError(leaf.name, `certificate ${leaf.name} is invalid: x509: certificate is valid for ${validFor}, not ${dns}`);
    }
    for (const ip of leaf.ips) {
      if (!names.ipAddresses.includes(ip)) throw certsError(leaf.name, `certificate ${leaf.name} is invalid: x509: certificate is valid for ${validFor}, not ${ip}`);
    }
    say("certs", `Using existing ${leaf.name} certificate and key on disk`);
  }
  const saKey = join(dir, "sa.key");
  const saPub = join(dir, "sa.pub");
  if (!existsSync(saKey) || !existsSync(saPub)) throw certsError("sa", `${saKey} or ${saPub} is missing: the fake never generates keys`);
  if (publicKeyFile(saPub) !== privateKeyPublicKey(saKey)) throw certsError("sa", `the public key ${saPub} does not match the private key ${saKey}`);
  say("certs", 'Using the existing "sa" key');
}

/** The kubeconfig phase for files already on disk: kubeadm's "exists already but has got the wrong CA cert". */
export function checkKubeconfig(path: string, caPath: string, expectedServer: string | undefined): void {
  if (!existsSync(path)) {
    throw phaseError("kubeconfig", `${path} is missing: the real kubeadm would generate it, this fake never generates kubeconfig files`);
  }
  const config = parseKubeconfig(readFileSync(path, "utf8"), path);
  const clusterCa = certificatePemFromFile(caPath);
  const embeddedCa = withPemFiles([config.caPem], ([file]) => certificatePemFromFile(file ?? ""));
  if (embeddedCa !== clusterCa) throw phaseError("kubeconfig", `a kubeconfig file "${path}" exists already but has got the wrong CA cert`);
  if (config.certPem === undefined || config.keyPem === undefined) throw phaseError("kubeconfig", `a kubeconfig file "${path}" exists already but has no client certificate and key`);
  withPemFiles([config.certPem, config.keyPem], ([cert, key]) => {
    const chain = chainError(caPath, cert ?? "");
    if (chain !== undefined) throw phaseError("kubeconfig", `the client certificate in "${path}" is not signed by the cluster CA (openssl verify: ${chain})`);
    if (certificatePublicKey(cert ?? "") !== privateKeyPublicKey(key ?? "")) throw phaseError("kubeconfig", `the client certificate and key in "${path}" do not match (openssl)`);
  });
  if (expectedServer !== undefined && config.server !== expectedServer) {
    warn(`a kubeconfig file "${path}" exists already but has an unexpected API Server URL: expected: ${expectedServer}, got: ${config.server}`);
  }
  say("kubeconfig", `Using existing kubeconfig file: "${path}"`);
}
