/**
 * The whole PKI of a cluster, as kubeadm would have made it but with our validity: the three CAs
 * and the service-account key (reused from --pki-dir when there), and for every master its leaf
 * certificates and kubeconfigs. Keys are fresh each time; everything else follows from the spec.
 */
import { mastersOf, type ClusterSpec, type HostSpec } from "../cluster/spec.ts";
import { KUBERNETES_DIR, PKI_DIR, PUBLIC_MODE, SECRET_MODE, type HostFile } from "../plan/files.ts";
import { certificatePem, createAuthority, signLeaf, type Validity } from "./certificates.ts";
import { caCertHash } from "./discovery-hash.ts";
import { generateKeyPair, privateKeyPem, publicKeyPem } from "./keys.ts";
import { renderKubeconfig } from "./kubeconfig.ts";
import type { PkiDirContents, StoredAuthority } from "./pki-dir.ts";
import { AUTHORITIES, kubeconfigProfiles, leafProfiles, type AuthorityName } from "./profiles.ts";

/** Certificates start a little in the past so hosts whose clocks lag can use them at once. */
export const BACKDATE_MS = 5 * 60 * 1000;

export interface PkiDirFile {
  /** Path under --pki-dir, same as under /etc/kubernetes/pki. */
  readonly relativePath: string;
  readonly mode: number;
  readonly content: string;
}

export interface ClusterPki {
  /** `sha256:...` pin of the cluster CA for kubeadm join discovery. */
  readonly caCertHash: string;
  /** Files per master, keyed by address. */
  readonly masterFiles: ReadonlyMap<string, HostFile[]>;
  /** Shared material made now that --pki-dir did not have; to be added there, never replacing. */
  readonly newPkiDirFiles: readonly PkiDirFile[];
  readonly warnings: readonly string[];
}

export async function buildClusterPki(spec: ClusterSpec, existing: PkiDirContents, now: Date): Promise<ClusterPki> {
  // X.509 times have whole seconds; rounding here keeps comparisons with read-back dates exact.
  const seconds = (ms: number) => new Date(Math.floor(ms / 1000) * 1000);
  const notBefore = seconds(now.getTime() - BACKDATE_MS);
  const requested: Validity = { notBefore, notAfter: seconds(now.getTime() + spec.certValidityHours * 3_600_000) };
  const warnings: string[] = [];
  const newPkiDirFiles: PkiDirFile[] = [];

  const authorities = {} as Record<AuthorityName, StoredAuthority>;
  await Promise.all(
    AUTHORITIES.map(async ({ name, commonName }) => {
      const stored = existing.authorities[name];
      if (stored !== undefined) {
        authorities[name] = stored;
        return;
      }
      const keys = await generateKeyPair(spec.keyAlgorithm);
      const authority = await createAuthority(commonName, keys, requested);
      const made = { ...authority, certificatePem: certificatePem(authority.certificate), keyPem: await privateKeyPem(keys) };
      authorities[name] = made;
      newPkiDirFiles.push(
        { relativePath: `${name}.crt`, mode: PUBLIC_MODE, content: made.certificatePem },
        { relativePath: `${name}.key`, mode: SECRET_MODE, content: made.keyPem },
      );
    }),
  );

  let serviceAccount: { privatePem: string; publicPem: string };
  if (existing.serviceAccount === undefined) {
    const keys = await generateKeyPair(spec.keyAlgorithm);
    serviceAccount = { privatePem: await privateKeyPem(keys), publicPem: await publicKeyPem(keys) };
    newPkiDirFiles.push(
      { relativePath: "sa.key", mode: SECRET_MODE, content: serviceAccount.privatePem },
      { relativePath: "sa.pub", mode: PUBLIC_MODE, content: serviceAccount.publicPem },
    );
  } else {
    const publicPem = existing.serviceAccount.publicPem ?? (await publicKeyPem(existing.serviceAccount.keys));
    if (existing.serviceAccount.publicPem === undefined) {
      newPkiDirFiles.push({ relativePath: "sa.pub", mode: PUBLIC_MODE, content: publicPem });
    }
    serviceAccount = { privatePem: existing.serviceAccount.privatePem, publicPem };
  }
  newPkiDirFiles.sort((a, b) => a.relativePath.localeCompare(b.relativePath));

  // A leaf cannot outlive its CA; a reused CA may expire before the requested validity.
  const leafValidity = (authority: StoredAuthority): Validity => {
    const caEnd = authority.certificate.notAfter;
    return caEnd < requested.notAfter ? { notBefore, notAfter: caEnd } : requested;
  };
  for (const { name } of AUTHORITIES) {
    const end = authorities[name].certificate.notAfter;
    if (existing.authorities[name] !== undefined && end < requested.notAfter) {
      warnings.push(`${name} from --pki-dir expires ${end.toISOString()}; certificates it signs end then too`);
    }
  }

  const sharedFiles: HostFile[] = [
    ...AUTHORITIES.flatMap(({ name }) => [
      { path: `${PKI_DIR}/${name}.crt`, mode: PUBLIC_MODE, content: authorities[name].certificatePem },
      { path: `${PKI_DIR}/${name}.key`, mode: SECRET_MODE, content: authorities[name].keyPem },
    ]),
    { path: `${PKI_DIR}/sa.key`, mode: SECRET_MODE, content: serviceAccount.privatePem },
    { path: `${PKI_DIR}/sa.pub`, mode: PUBLIC_MODE, content: serviceAccount.publicPem },
  ];

  const masterFiles = new Map<string, HostFile[]>();
  await Promise.all(
    mastersOf(spec).map(async (master) => {
      const own = await masterCredentials(spec, master, authorities, leafValidity);
      masterFiles.set(master.addressText, [...sharedFiles, ...own]);
    }),
  );
  const ordered = new Map(mastersOf(spec).map((master) => [master.addressText, masterFiles.get(master.addressText) ?? []]));

  return {
    caCertHash: caCertHash(authorities.ca.certificate),
    masterFiles: ordered,
    newPkiDirFiles,
    warnings,
  };
}

async function masterCredentials(
  spec: ClusterSpec,
  master: HostSpec,
  authorities: Record<AuthorityName, StoredAuthority>,
  validityFor: (authority: StoredAuthority) => Validity,
): Promise<HostFile[]> {
  const leaves = await Promise.all(
    leafProfiles(spec, master).map(async (profile) => {
      const authority = authorities[profile.authority];
      const keys = await generateKeyPair(spec.keyAlgorithm);
      const certificate = await signLeaf(authority, { ...profile, keys, validity: validityFor(authority) });
      return [
        { path: `${PKI_DIR}/${profile.baseName}.crt`, mode: PUBLIC_MODE, content: certificatePem(certificate) },
        { path: `${PKI_DIR}/${profile.baseName}.key`, mode: SECRET_MODE, content: await privateKeyPem(keys) },
      ];
    }),
  );
  const ca = authorities.ca;
  const kubeconfigs = await Promise.all(
    kubeconfigProfiles(spec, master).map(async (profile) => {
      const keys = await generateKeyPair(spec.keyAlgorithm);
      const certificate = await signLeaf(ca, { subject: profile.subject, usages: ["clientAuth"], keys, validity: validityFor(ca) });
      const content = renderKubeconfig({
        clusterName: spec.name,
        server: profile.server,
        caCertificatePem: ca.certificatePem,
        userName: profile.userName,
        clientCertificatePem: certificatePem(certificate),
        clientKeyPem: await privateKeyPem(keys),
      });
      return { path: `${KUBERNETES_DIR}/${profile.fileName}`, mode: SECRET_MODE, content };
    }),
  );
  return [...leaves.flat(), ...kubeconfigs];
}
