/**
 * The part of kubeadm's validation (apis/kubeadm/validation) the fake enforces: field errors in
 * kubeadm's `path: Invalid value: "x": reason` form, aggregated like field.ErrorList.
 */
import { isIP } from "node:net";
import { atLeastMinor, compareVersions, parseVersion, type Version } from "../lib/version.ts";
import type { ClusterSettings, InitSettings, JoinSettings, NodeRegistration } from "./config.ts";

const TOKEN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const GROUP = /^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$/;
const CA_HASH = /^sha256:[0-9a-f]{64}$/;

export class ValidationError extends Error {}

const invalid = (path: string, value: unknown, reason: string) => `${path}: Invalid value: ${JSON.stringify(value)}: ${reason}`;

function validCidr(text: string): boolean {
  const [address, bits, extra] = text.split("/");
  if (extra !== undefined || address === undefined || bits === undefined || !/^\d+$/.test(bits)) return false;
  const family = isIP(address);
  return family !== 0 && Number(bits) <= (family === 4 ? 32 : 128);
}

export function validHostPort(text: string): boolean {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text);
  if (match === null) return false;
  const host = match[1] ?? match[2] ?? "";
  const port = Number(match[3]);
  return port > 0 && port < 65536 && (isIP(host) !== 0 || DNS1123_SUBDOMAIN.test(host));
}

function nodeRegistrationErrors(node: NodeRegistration, errors: string[]): void {
  if (!DNS1123_SUBDOMAIN.test(node.name) || node.name.length > 253) {
    errors.push(
      invalid("nodeRegistration.name", node.name, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"),
    );
  }
  if (!/^(unix|npipe):\/\//.test(node.criSocket) && !node.criSocket.startsWith("/")) {
    errors.push(invalid("nodeRegistration.criSocket", node.criSocket, "the URL scheme must be unix or npipe"));
  }
}

/** kubeadm vX deploys control planes vX and vX-1 only. */
export function checkKubernetesVersion(cluster: ClusterSettings, kubeadm: Version): void {
  const version = parseVersion(cluster.kubernetesVersion);
  if (version === undefined) throw new ValidationError(`couldn't parse Kubernetes version "${cluster.kubernetesVersion}"`);
  const minimum = { major: kubeadm.major, minor: kubeadm.minor - 1, patch: 0, text: `v${kubeadm.major}.${kubeadm.minor - 1}.0` };
  if (compareVersions(version, minimum) < 0) {
    throw new ValidationError(`this version of kubeadm only supports deploying clusters with the control plane version >= ${minimum.text}. Current version: ${cluster.kubernetesVersion}`);
  }
}

function clusterErrors(cluster: ClusterSettings, errors: string[]): void {
  for (const [path, value] of [["networking.serviceSubnet", cluster.serviceSubnet], ["networking.podSubnet", cluster.podSubnet]] as const) {
    if (value !== undefined && value.split(",").some((cidr) => !validCidr(cidr))) errors.push(invalid(path, value, "couldn't parse subnet"));
  }
  if (!DNS1123_SUBDOMAIN.test(cluster.dnsDomain)) errors.push(invalid("networking.dnsDomain", cluster.dnsDomain, "a lowercase RFC 1123 subdomain is required"));
  cluster.certSANs.forEach((san, index) => {
    if (isIP(san) === 0 && !DNS1123_SUBDOMAIN.test(san.replace(/^\*\./, ""))) {
      errors.push(invalid(`apiServer.certSANs[${index}]`, san, "altname is not a valid IP address, DNS label or a DNS label with subdomain wildcards"));
    }
  });
  const endpoint = cluster.controlPlaneEndpoint;
  if (endpoint !== undefined && !validHostPort(endpoint) && isIP(endpoint) === 0 && !DNS1123_SUBDOMAIN.test(endpoint)) {
    errors.push(invalid("controlPlaneEndpoint", endpoint, "must be a valid IP address or a valid RFC-1123 DNS subdomain with an optional port"));
  }
}

function aggregate(errors: string[]): void {
  if (errors.length === 1) throw new ValidationError(errors[0]);
  if (errors.length > 1) throw new ValidationError(`[${errors.join(", ")}]`);
}

export function validateInit(settings: InitSettings, kubeadm: Version): void {
  const errors: string[] = [];
  settings.bootstrapTokens.forEach((token, index) => {
    if (!TOKEN.test(token.token)) errors.push(invalid(`bootstrapTokens[${index}].token`, "<redacted>", "the bootstrap token is invalid"));
    token.usages.forEach((usage) => {
      if (usage !== "signing" && usage !== "authentication") errors.push(invalid(`bootstrapTokens[${index}].usages`, usage, `unknown usage "${usage}"`));
    });
    token.groups.forEach((group) => {
      if (!GROUP.test(group)) errors.push(invalid(`bootstrapTokens[${index}].groups`, group, `bootstrap group "${group}" is invalid`));
    });
  });
  if (isIP(settings.advertiseAddress) === 0) errors.push(invalid("localAPIEndpoint.advertiseAddress", settings.advertiseAddress, "must be a valid IP address"));
  if (settings.bindPort < 1 || settings.bindPort > 65535) errors.push(invalid("localAPIEndpoint.bindPort", settings.bindPort, "must be a valid port number between 1 and 65535, inclusive"));
  nodeRegistrationErrors(settings.nodeRegistration, errors);
  clusterErrors(settings.cluster, errors);
  aggregate(errors);
  checkKubernetesVersion(settings.cluster, kubeadm);
}

export function validateJoin(settings: JoinSettings, kubeadm: Version): void {
  const errors: string[] = [];
  const tokenGiven = settings.token !== undefined;
  if (tokenGiven && settings.discoveryFile !== undefined) errors.push(invalid("discovery.bootstrapToken", "<redacted>", "bootstrapToken and file cannot both be set"));
  if (!tokenGiven && settings.discoveryFile === undefined) errors.push(invalid("discovery.bootstrapToken", null, "bootstrapToken or file must be set"));
  if (tokenGiven) {
    if (!TOKEN.test(settings.token ?? "")) errors.push(invalid("discovery.bootstrapToken.token", "<redacted>", "the bootstrap token is invalid"));
    if (settings.apiServerEndpoint === undefined) errors.push(invalid("discovery.bootstrapToken.apiServerEndpoint", "", "APIServerEndpoint is not set"));
    else if (!validHostPort(settings.apiServerEndpoint)) errors.push(invalid("discovery.bootstrapToken.apiServerEndpoint", settings.apiServerEndpoint, "address is not a valid host:port"));
    if (settings.caCertHashes.length === 0 && !settings.unsafeSkipCAVerification) {
      errors.push(
        invalid(
          "discovery.bootstrapToken.caCertHashes",
          [],
          "using token-based discovery without caCertHashes can be unsafe. Set unsafeSkipCAVerification as true in your kubeadm config file or pass --discovery-token-unsafe-skip-ca-verification flag to continue",
        ),
      );
    }
    settings.caCertHashes.forEach((hash, index) => {
      if (!CA_HASH.test(hash)) errors.push(invalid(`discovery.bootstrapToken.caCertHashes[${index}]`, hash, "invalid hash, expected format: \"sha256:<hex>\""));
    });
  }
  if (settings.controlPlane !== undefined && isIP(settings.controlPlane.advertiseAddress) === 0) {
    errors.push(invalid("controlPlane.localAPIEndpoint.advertiseAddress", settings.controlPlane.advertiseAddress, "must be a valid IP address"));
  }
  nodeRegistrationErrors(settings.nodeRegistration, errors);
  aggregate(errors);
  if (!atLeastMinor(kubeadm, 1, 22)) throw new ValidationError(`FAKE kubeadm models kubeadm 1.22 and later, not ${kubeadm.text}`);
}
