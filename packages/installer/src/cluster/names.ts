/** Host and DNS names as Kubernetes and X.509 accept them. */

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * An RFC 1123 subdomain, the rule for Node names: lower case, labels of at most 63 characters,
 * 253 in all. The kubelet's client certificate carries the name, so it must be exact.
 */
export function isDnsSubdomain(name: string): boolean {
  return name.length <= 253 && name.split(".").every((label) => label.length <= 63 && DNS_LABEL.test(label));
}

/** A DNS name for a certificate SAN: a subdomain, optionally with a leading `*.` wildcard label. */
export function isSanDnsName(name: string): boolean {
  const lower = name.toLowerCase();
  return isDnsSubdomain(lower.startsWith("*.") ? lower.slice(2) : lower);
}
