/**
 * `seal cert --alt-names NAME|IP,...` / `seal cert --renew [--new-keys]`: every master's new
 * certificates are prepared first (read over SSH, signed with the CAs in the cluster's PKI dir);
 * only then are they written, one master at a time, each master's control plane restarted and
 * its API server healthy before the next. `--dry-run` stops after preparing and prints the plan.
 *
 * Hosts come from --masters for now; the Clusterfile (~/.seal/<cluster>/) will supply them.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { KEY_ALGORITHMS, type KeyAlgorithm } from "../cluster/spec.ts";
import { ALT_NAMES_RESTARTS, prepareMasterUpdate, type CertChange, type MasterUpdate } from "../cert/prepare-update.ts";
import { checkRolloutTools, rollOutCertificates } from "../cert/distribute.ts";
import { InputError } from "../errors.ts";
import { parseAltNames } from "../pki/alt-names.ts";
import { readPkiDir } from "../pki/pki-dir.ts";
import {
  clusterKnownHostsPath,
  createLogger,
  HostPool,
  loadCredentials,
  parseHostAddresses,
  parseHostKeyPin,
  valuesOrThrow,
  type LogFormat,
} from "../ssh/index.ts";
import type { Output } from "./output.ts";

export interface CertCommandOptions {
  readonly masters: readonly string[];
  readonly altNames?: readonly string[];
  readonly renew?: boolean;
  readonly newKeys?: boolean;
  readonly keyAlgorithm?: string;
  readonly cluster: string;
  readonly pkiDir?: string;
  readonly user: string;
  /** From -p/--passwd or SEAL_SSH_PASSWORD. */
  readonly password?: string;
  readonly pk?: string;
  readonly pkPasswd?: string;
  readonly port: number;
  readonly acceptHostKey?: readonly string[];
  readonly sshInsecure?: boolean;
  readonly dryRun?: boolean;
  /** Seconds the static pod manifests stay away during a restart. */
  readonly restartWait: number;
  readonly logFormat: LogFormat;
}

/** `~/.seal/<cluster>/pki`: the cluster's CAs, as the lifecycle's state directory keeps them. */
export function clusterPkiDir(cluster: string, home = homedir()): string {
  return join(clusterKnownHostsPath(cluster, home), "..", "pki");
}

function certChange(options: CertCommandOptions): CertChange {
  const altNames = options.altNames ?? [];
  if (options.renew === true && altNames.length > 0) throw new InputError("--alt-names and --renew are separate runs; give one of them");
  if (options.renew !== true && altNames.length === 0) throw new InputError("give --alt-names NAME|IP,... or --renew");
  if (options.newKeys === true && options.renew !== true) throw new InputError("--new-keys goes with --renew (--alt-names keeps the key)");
  if (options.renew !== true) return { kind: "alt-names", altNames: parseAltNames(altNames) };
  if (options.newKeys !== true) return { kind: "renew" };
  const algorithm = options.keyAlgorithm ?? "rsa-2048";
  if (!(KEY_ALGORITHMS as readonly string[]).includes(algorithm)) throw new InputError(`--key-algorithm: "${algorithm}" is not one of ${KEY_ALGORITHMS.join(", ")}`);
  return { kind: "renew", newKeyAlgorithm: algorithm as KeyAlgorithm };
}

export async function runCert(options: CertCommandOptions, out: Output): Promise<void> {
  const change = certChange(options);
  const masters = parseHostAddresses(options.masters, options.port).map((target) => target.label);
  if (masters.length === 0) throw new InputError("--masters: at least one master is required");
  if (!Number.isInteger(options.restartWait) || options.restartWait < 1 || options.restartWait > 600) {
    throw new InputError(`--restart-wait: ${options.restartWait} is not a whole number of seconds from 1 to 600`);
  }
  const pkiDir = options.pkiDir ?? clusterPkiDir(options.cluster);
  const now = new Date();
  const pki = await readPkiDir(pkiDir, now);
  if (pki.authorities.ca === undefined) throw new InputError(`${pkiDir}: no ca.crt/ca.key; give the cluster's PKI directory with --pki-dir`);
  const credentials = await loadCredentials({
    user: options.user,
    ...(options.password === undefined ? {} : { password: options.password }),
    ...(options.pk === undefined ? {} : { privateKeyPath: options.pk }),
    ...(options.pkPasswd === undefined ? {} : { passphrase: options.pkPasswd }),
  });
  const logger = createLogger({ format: options.logFormat });
  await using pool = new HostPool({
    credentials,
    port: options.port,
    hostKeys: {
      knownHostsPath: clusterKnownHostsPath(options.cluster),
      pins: (options.acceptHostKey ?? []).map(parseHostKeyPin),
      insecureAcceptChangedKeys: options.sshInsecure === true,
    },
    logger,
  });

  // Everything is read and signed before the first write, on every master.
  const prepared = await pool.forEach(masters, (host) => prepareMasterUpdate(host, pki, pkiDir, change, now), { title: "prepare certificates" });
  const problems = prepared.flatMap((result) => (result.ok ? [] : [result.error]));
  // Bad input on any master (a missing file, another CA's certificate) is one line, exit 2.
  if (problems.length > 0 && problems.every((error) => error instanceof InputError)) {
    throw new InputError(problems.map((error) => error.message).join("; "));
  }
  const updates: MasterUpdate[] = valuesOrThrow<MasterUpdate>(prepared, "prepare certificates");

  const what = change.kind === "renew" ? "renew every leaf certificate" : `add ${[...change.altNames.dnsNames, ...change.altNames.ipAddresses].join(", ")} to the API server certificate`;
  out.info(`${options.dryRun === true ? "would " : ""}${what} on ${masters.length} masters, one at a time:`);
  for (const update of updates) {
    out.info(`  ${update.address}: ${update.files.length === 0 ? "nothing to change" : `write ${update.files.length} files, restart ${update.restarts.join(", ")}`}`);
    for (const line of update.summary) out.info(`    ${line}`);
  }
  if (options.dryRun === true) return;

  await checkRolloutTools(pool, updates.filter((update) => update.files.length > 0).map((update) => update.address));
  const healthName = change.kind === "alt-names" ? change.altNames.dnsNames[0] : undefined;
  await rollOutCertificates(pool, updates, {
    parkSeconds: options.restartWait,
    ...(healthName === undefined ? {} : { healthName }),
    onStep: (address, step, detail) => logger.log("info", `${step}${detail === undefined ? "" : ` (${detail})`}`, { host: address }),
  });
  const restarted = updates.filter((update) => update.files.length > 0).length;
  out.info(`done: ${restarted} masters updated${change.kind === "alt-names" ? ` (${ALT_NAMES_RESTARTS.join(", ")} restarted)` : ""}`);
}
