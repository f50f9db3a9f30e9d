/**
 * `seal cert --alt-names NAME|IP,...` / `seal cert --renew [--new-keys]`: every master's new
 * certificates are prepared first (read over SSH, signed with the CAs in the cluster's PKI dir);
 * only then are they written, one master at a time, each master's control plane restarted and
 * its API server healthy before the next. `--dry-run` stops after preparing and prints the plan.
 *
 * The masters are --masters, or the Clusterfile's (~/.seal/<cluster>/) when it is not given.
 */
import { Command, Option } from "commander";
import { DEFAULTS, KEY_ALGORITHMS, type KeyAlgorithm } from "../cluster/spec.ts";
import { clusterHosts } from "../cluster-state/clusterfile.ts";
import { readClusterfile, stateDir } from "../cluster-state/state-dir.ts";
import { ALT_NAMES_RESTARTS, prepareMasterUpdate, type CertChange, type MasterUpdate } from "../cert/prepare-update.ts";
import { checkRolloutTools, rollOutCertificates } from "../cert/distribute.ts";
import { InputError } from "../errors.ts";
import { parseAltNames } from "../pki/alt-names.ts";
import { readPkiDir } from "../pki/pki-dir.ts";
import {
  createLogger,
  HostPool,
  parseHostAddresses,
  parseHostKeyPin,
  valuesOrThrow,
  type LogFormat,
  type SshCredentials,
} from "../ssh/index.ts";
import { addSshFlags, collectList, credentialsFrom, logFormatOf, parsePortFlag, secretsOf, type SshFlags } from "./flags.ts";
import type { Output } from "./output.ts";

export interface CertCommandOptions {
  /** Undefined: the Clusterfile's masters. */
  readonly masters?: readonly string[];
  readonly altNames?: readonly string[];
  readonly renew?: boolean;
  readonly newKeys?: boolean;
  readonly keyAlgorithm?: string;
  readonly cluster: string;
  readonly pkiDir?: string;
  readonly credentials: () => Promise<SshCredentials>;
  /** Passwords and passphrases never to log. */
  readonly secrets?: readonly string[];
  readonly port: number;
  readonly acceptHostKey?: readonly string[];
  readonly sshInsecure?: boolean;
  readonly dryRun?: boolean;
  /** Seconds the static pod manifests stay away during a restart. */
  readonly restartWait: number;
  readonly logFormat: LogFormat;
  /** Where ~/.seal is; default the user's home. */
  readonly home?: string;
}

/** --masters, else the masters the cluster's Clusterfile lists. */
function mastersOf(options: CertCommandOptions): readonly string[] {
  if (options.masters !== undefined) return options.masters;
  const state = stateDir(options.cluster, options.home);
  const file = readClusterfile(state.clusterfile);
  if (file === undefined) throw new InputError(`no --masters and no cluster "${options.cluster}" (${state.clusterfile} does not exist); give --masters IP,...`);
  return clusterHosts(file.cluster).masters.map((host) => host.ip);
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
  const masters = parseHostAddresses(mastersOf(options), options.port).map((target) => target.label);
  if (masters.length === 0) throw new InputError("--masters: at least one master is required");
  if (!Number.isInteger(options.restartWait) || options.restartWait < 1 || options.restartWait > 600) {
    throw new InputError(`--restart-wait: ${options.restartWait} is not a whole number of seconds from 1 to 600`);
  }
  const state = stateDir(options.cluster, options.home);
  const pkiDir = options.pkiDir ?? state.pkiDir;
  const now = new Date();
  const pki = await readPkiDir(pkiDir, now);
  if (pki.authorities.ca === undefined) throw new InputError(`${pkiDir}: no ca.crt/ca.key; give the cluster's PKI directory with --pki-dir`);
  const credentials = await options.credentials();
  const logger = createLogger({ format: options.logFormat });
  for (const secret of options.secrets ?? []) logger.redactor.add(secret);
  await using pool = new HostPool({
    credentials,
    port: options.port,
    hostKeys: {
      knownHostsPath: state.knownHosts,
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
  out.info(`${options.dryRun === true ? "would " : ""}${what} on ${masters.length} ${masters.length === 1 ? "master" : "masters"}, one at a time:`);
  for (const update of updates) {
    out.info(`  ${update.address}: ${update.files.length === 0 ? "nothing to change" : `write ${update.files.length} ${update.files.length === 1 ? "file" : "files"}, restart ${update.restarts.join(", ")}`}`);
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

interface CertFlags extends SshFlags {
  masters?: string[];
  altNames?: string[];
  renew?: boolean;
  newKeys?: boolean;
  keyAlgorithm: string;
  pkiDir?: string;
  dryRun?: boolean;
  restartWait: number;
}

export function addCertCommand(program: Command, out: Output): void {
  addSshFlags(
    program
      .command("cert")
      .description(
        "add names to every API server certificate (--alt-names) or renew every leaf certificate keeping its lifetime (--renew), " +
          "signed by the cluster's CAs; masters are updated and restarted one at a time",
      )
      .option("--masters <ips>", "master addresses, comma separated (default: the Clusterfile's, ~/.seal/<cluster>/Clusterfile)", collectList)
      .option("--alt-names <names>", "DNS names or IPs to add to the API server certificates, comma separated", collectList)
      .option("--renew", "renew every leaf certificate and kubeconfig on the masters for the lifetime it had (99 years stay 99 years)")
      .option("--new-keys", "with --renew: a fresh key for every certificate (default: keep the keys)")
      .addOption(new Option("--key-algorithm <algorithm>", "with --new-keys: key type").choices(KEY_ALGORITHMS).default(DEFAULTS.keyAlgorithm))
      .option("--pki-dir <dir>", "the cluster's CA directory (default ~/.seal/<cluster>/pki)")
      .option("--dry-run", "read and sign, print what would change, write nothing")
      .option("--restart-wait <seconds>", "how long the static pod manifests stay away while the kubelet stops the pods", (value: string) => Number(value), 20),
  ).action(async (flags: CertFlags) => {
    await runCert(
      {
        ...(flags.masters === undefined ? {} : { masters: flags.masters }),
        ...(flags.altNames === undefined ? {} : { altNames: flags.altNames }),
        ...(flags.renew === undefined ? {} : { renew: flags.renew }),
        ...(flags.newKeys === undefined ? {} : { newKeys: flags.newKeys }),
        keyAlgorithm: flags.keyAlgorithm,
        cluster: flags.cluster,
        ...(flags.pkiDir === undefined ? {} : { pkiDir: flags.pkiDir }),
        credentials: credentialsFrom(flags),
        secrets: secretsOf(flags),
        port: parsePortFlag(flags.port),
        acceptHostKey: flags.acceptHostKey ?? [],
        sshInsecure: flags.sshInsecure ?? false,
        dryRun: flags.dryRun ?? false,
        restartWait: flags.restartWait,
        logFormat: logFormatOf(flags),
      },
      out,
    );
  });
}
