/**
 * `seal cert --alt-names`, the pure part: an API server certificate signed again by its CA with
 * extra subject alternative names, keeping its key, subject, extensions and validity.
 */
import { formatIp, parseIp } from "@lvscare/contracts/ip";
import { isSanDnsName } from "../cluster/names.ts";
import { InputError } from "../errors.ts";
import { certificatePem } from "./certificates.ts";
import type { StoredAuthority } from "./pki-dir.ts";
import { altNamesOf, parseCertificatePem, reissueCertificate, type AltNames } from "./reissue.ts";

/** `NAME|IP,...` as typed: IPs in canonical text, DNS names lower-cased, duplicates dropped. */
export function parseAltNames(items: readonly string[]): AltNames {
  if (items.length === 0) throw new InputError("--alt-names: give at least one DNS name or IP address");
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const item of items) {
    const ip = parseIp(item);
    if (ip !== undefined) ipAddresses.push(formatIp(ip));
    else if (isSanDnsName(item)) dnsNames.push(item.toLowerCase());
    else throw new InputError(`--alt-names: "${item}" is neither an IP address nor a DNS name`);
  }
  return { dnsNames: [...new Set(dnsNames)], ipAddresses: [...new Set(ipAddresses)] };
}

export interface AltNamesResult {
  /** Undefined when the certificate already had every name: nothing to install. */
  readonly certificatePem: string | undefined;
  readonly added: AltNames;
}

/** The certificate with `extra` appended to its SANs (names it has already are not repeated). */
export async function addAltNames(pem: string, authority: StoredAuthority, extra: AltNames, label: string): Promise<AltNamesResult> {
  const certificate = parseCertificatePem(pem, label);
  const current = altNamesOf(certificate);
  const added: AltNames = {
    dnsNames: extra.dnsNames.filter((name) => !current.dnsNames.some((have) => have.toLowerCase() === name)),
    ipAddresses: extra.ipAddresses.filter((ip) => !current.ipAddresses.includes(ip)),
  };
  if (added.dnsNames.length === 0 && added.ipAddresses.length === 0) return { certificatePem: undefined, added };
  const altNames: AltNames = {
    dnsNames: [...current.dnsNames, ...added.dnsNames],
    ipAddresses: [...current.ipAddresses, ...added.ipAddresses],
  };
  const reissued = await reissueCertificate(certificate, authority, { altNames }, label);
  return { certificatePem: certificatePem(reissued), added };
}
