/**
 * `lvscare` command line: care (the daemon), version, ipvs list, static-pod. Every input is
 * validated before anything touches the host; bad input is one line on stderr and exit code 2.
 */
import { readFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import type { Server } from "node:http";
import { Command, CommanderError } from "commander";
import { formatEndpoint } from "./address.ts";
import { CareDaemon } from "./care.ts";
import { addCareOptions, collectCareOptions } from "./cli/care-options.ts";
import { type CareConfig, parseCareConfig } from "./config.ts";
import { createKernelDataplane, type KernelDataplaneChoices } from "./dataplane/index.ts";
import { MASQUERADE_BACKENDS, type MasqueradeBackend } from "./dataplane/kernel-masquerade.ts";
import { instrumentDataplane } from "./dataplane/instrumented.ts";
import type { Dataplane } from "./dataplane/types.ts";
import { UsageError } from "./errors.ts";
import { writeFileAtomic } from "./atomic-write.ts";
import { rulerFor } from "./host-setup.ts";
import { findHostsAddress, NODE_IP_HOST_NAME } from "./hosts-file.ts";
import { formatIpvsTable, ipvsTableToJson } from "./ipvs-format.ts";
import { createLogger, type Logger } from "./log.ts";
import { CareMetrics, startMetricsServer } from "./metrics.ts";
import { clean, runOnce } from "./one-shot.ts";
import { HttpProber } from "./probe/http-prober.ts";
import { DEFAULT_LVSCARE_IMAGE, DEFAULT_STATIC_POD_NAME, renderLvscareStaticPod } from "./static-pod.ts";
import { splitRealServerArgs } from "./servers.ts";
import { VERSION } from "./version.ts";
import { versionInfo } from "./build-info.ts";

export interface CliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface CliDeps {
  readonly createDataplane: (choices?: KernelDataplaneChoices) => Promise<Dataplane>;
  /** Resolves with a signal name when the daemon should stop (SIGTERM/SIGINT in production). */
  readonly waitForStop: () => Promise<string>;
  /** Where log lines go (default stdout). */
  readonly logDestination?: { write(line: string): unknown };
}

const DEFAULT_HOSTS_FILE = "/etc/hosts";
const DEFAULT_MANIFEST_DIR = "/etc/kubernetes/manifests";

const CARE_HELP_AFTER = `
Compatible with upstream lvscare: the same flags and CARE_* variables, so a manifest written by
sealos works unchanged. Defaults differ where upstream's cannot meet sub-second failover
(upstream: --interval 5s --health-timeout 10s, one failure quiesces): here a master that refuses
connections is out within a second, a silent (blackholed) one within 3 s, and one lost packet
removes nothing. Pass --interval 5s --health-timeout 10s --fall 1 --rise 1 for upstream's pace.
`;

export async function main(argv: readonly string[], io: CliIo, deps: CliDeps): Promise<number> {
  let exitCode = 0;
  const program = new Command("lvscare")
    .description("Node-local IPVS load balancer for kube-apiserver")
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: () => undefined, outputError: () => undefined });

  const care = program
    .command("care")
    .description("keep an IPVS virtual server pointed at the healthy masters")
    .helpOption("-h, --help", "show this help")
    .addHelpText("after", CARE_HELP_AFTER)
    .action(async () => {
      exitCode = await careCommand(collectCareOptions(care, io.env), io, deps);
    });
  addCareOptions(care);

  program
    .command("version")
    .description("print the version, git commit and build date")
    .option("--short", "only the version number")
    .action((options: { short?: boolean }) => {
      io.stdout.write(
        options.short
          ? `v${VERSION}\n`
          : `${JSON.stringify(versionInfo(VERSION))}\n`,
      );
    });

  const ipvs = program.command("ipvs").description("inspect the kernel's IPVS table");
  ipvs
    .command("list")
    .description("list virtual and real servers like `ipvsadm -Ln`")
    .option("--json", "print JSON")
    .action(async (options: { json?: boolean }) => {
      const dataplane = await deps.createDataplane();
      try {
        const table = await dataplane.listAll();
        io.stdout.write(options.json ? ipvsTableToJson(table) : formatIpvsTable(table));
      } finally {
        await dataplane.close();
      }
    });

  program
    .command("static-pod")
    .description("write the lvscare static pod manifest (like `sealctl static-pod lvscare`)")
    .option("--vip <ip:port>", "virtual server", "10.103.97.2:6443")
    .option("--masters <ip:port>", "masters; repeat or give a comma list (required)", collectList)
    .option("--image <image>", "lvscare container image", DEFAULT_LVSCARE_IMAGE)
    .option("--name <name>", "pod name", DEFAULT_STATIC_POD_NAME)
    .option("--path <dir>", "manifest directory", DEFAULT_MANIFEST_DIR)
    .option("--print", "print the manifest instead of writing it")
    .option("--options <arg>", "extra `lvscare care` argument, repeatable, e.g. --options=--mode --options=link", collectList)
    .action((options: StaticPodFlags) => {
      staticPodCommand(options, io);
    });

  try {
    await program.parseAsync([...argv], { from: "user" });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0;
      if (err.code === "commander.help") {
        // No command given: the usage, on stderr, as a usage error.
        io.stderr.write(program.helpInformation());
        return 2;
      }
      io.stderr.write(`lvscare: ${err.message.replace(/^error: /, "").replace(/\s*\n\s*/g, " ").trim()}\n`);
      return 2;
    }
    if (err instanceof UsageError) {
      io.stderr.write(`lvscare: ${err.message}\n`);
      return 2;
    }
    io.stderr.write(`lvscare: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

function collectList(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

interface StaticPodFlags {
  vip: string;
  masters?: string[];
  image: string;
  name: string;
  path: string;
  print?: boolean;
  options?: string[];
}

function staticPodCommand(flags: StaticPodFlags, io: CliIo): void {
  if (!flags.masters || flags.masters.length === 0) throw new UsageError("--masters is required");
  const masters = splitRealServerArgs(flags.masters);
  const vipFamily = flags.vip.trim().startsWith("[") ? 6 : 4;
  const nodeIp = readHostsAddress(io, vipFamily);
  const manifest = renderLvscareStaticPod({
    vip: flags.vip,
    masters,
    image: flags.image,
    name: flags.name,
    options: flags.options ?? [],
    ...(nodeIp === undefined ? {} : { nodeIp }),
  });
  if (flags.print) {
    io.stdout.write(manifest);
    return;
  }
  const target = join(flags.path, `${flags.name}.yaml`);
  writeFileAtomic(target, manifest);
  io.stdout.write(`wrote ${target}\n`);
}

function hostsFilePath(io: CliIo): string {
  return io.env["LVSCARE_HOSTS_FILE"] ?? DEFAULT_HOSTS_FILE;
}

function readHostsAddress(io: CliIo, family: 4 | 6): string | undefined {
  let text: string;
  try {
    text = readFileSync(hostsFilePath(io), "utf8");
  } catch {
    return undefined;
  }
  return findHostsAddress(text, NODE_IP_HOST_NAME, family);
}

/** Everything the care command needs from files, read and checked before any side effect. */
function resolveCareInputs(config: CareConfig, io: CliIo): { gateway: string | undefined; ca: string | undefined; masquerade: MasqueradeBackend } {
  let gateway = config.nodeIp;
  if (config.mode === "route" && !config.clean && gateway === undefined) {
    gateway = readHostsAddress(io, config.virtualServer.family);
    if (gateway === undefined) {
      throw new UsageError(
        `route mode needs this node's IP: pass --ip or add "<node IP> ${NODE_IP_HOST_NAME}" to ${hostsFilePath(io)}`,
      );
    }
  }
  let ca: string | undefined;
  if (config.health.caFile !== undefined && !config.clean) {
    try {
      ca = readFileSync(config.health.caFile, "utf8");
    } catch (err) {
      throw new UsageError(`--health-ca-file: cannot read ${config.health.caFile}: ${(err as Error).message}`);
    }
    try {
      new X509Certificate(ca);
    } catch {
      throw new UsageError(`--health-ca-file: ${config.health.caFile} holds no PEM certificate`);
    }
  }
  return { gateway, ca, masquerade: masqueradeBackend(io) };
}

/** LVSCARE_MASQUERADE=auto|nft|iptables: link mode's masquerade tool (auto: nftables when it works). */
function masqueradeBackend(io: CliIo): MasqueradeBackend {
  const value = (io.env["LVSCARE_MASQUERADE"] ?? "auto").trim() || "auto";
  const backend = MASQUERADE_BACKENDS.find((b) => b === value);
  if (backend === undefined) throw new UsageError(`LVSCARE_MASQUERADE: "${value}" is not one of ${MASQUERADE_BACKENDS.join(", ")}`);
  return backend;
}

async function careCommand(raw: ReturnType<typeof collectCareOptions>, io: CliIo, deps: CliDeps): Promise<number> {
  const config = parseCareConfig(raw);
  const { gateway, ca, masquerade } = resolveCareInputs(config, io);
  const logger = createLogger({
    format: config.logFormat,
    level: config.logLevel,
    ...(deps.logDestination ? { destination: deps.logDestination } : {}),
  });
  // -C removes the ruler by its identity (rulerTargetFor); only the loop and --run-once create one.
  const ruler = config.clean ? undefined : rulerFor(config, gateway);

  const metrics = config.metricsAddr && !config.clean && !config.runOnce ? new CareMetrics(config.realServers) : undefined;
  const kernel = await deps.createDataplane({ masquerade });
  const dataplane = metrics ? instrumentDataplane(kernel, metrics) : kernel;
  const newProber = (onConnectionLost: (master: Parameters<HttpProber["probe"]>[0]["master"], error: Error) => void): HttpProber =>
    new HttpProber({
      health: config.health,
      ca,
      masters: config.realServers,
      keepAliveMs: Math.max(10_000, config.intervalMs * 3 + config.health.timeoutMs),
      userAgent: `lvscare/${VERSION}`,
      onConnectionLost,
    });

  try {
    if (config.clean) {
      await clean(config, { dataplane, logger });
      return 0;
    }
    if (config.runOnce) {
      const prober = newProber(() => undefined);
      try {
        await runOnce(config, { dataplane, prober, ruler, logger });
      } finally {
        await prober.close();
      }
      return 0;
    }
    return await runDaemon(config, { dataplane, ruler, logger, metrics, newProber }, deps);
  } catch (err) {
    logger.error({ err: err instanceof Error ? err.message : String(err) }, "failed");
    throw err;
  } finally {
    await kernel.close();
  }
}

async function runDaemon(
  config: CareConfig,
  parts: {
    dataplane: Dataplane;
    ruler: ReturnType<typeof rulerFor>;
    logger: Logger;
    metrics: CareMetrics | undefined;
    newProber: (onLost: (master: Parameters<HttpProber["probe"]>[0]["master"], error: Error) => void) => HttpProber;
  },
  deps: CliDeps,
): Promise<number> {
  const { logger, metrics } = parts;
  const daemon = new CareDaemon({
    config,
    dataplane: parts.dataplane,
    createProber: parts.newProber,
    ruler: parts.ruler,
    logger,
    metrics,
  });
  let server: Server | undefined;
  if (metrics && config.metricsAddr) {
    server = await startMetricsServer(config.metricsAddr, metrics, { healthy: () => daemon.healthy(), ready: () => daemon.ready() });
    const address = server.address();
    logger.info({ addr: typeof address === "object" && address ? `${address.address}:${address.port}` : String(address) }, "metrics server listening");
  }
  const stopped = deps.waitForStop();
  await daemon.start();
  const signal = await stopped;
  logger.info({ signal, vs: formatEndpoint(config.virtualServer) }, "stopping");
  await daemon.stop();
  if (server) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return 0;
}

/** Production wiring: real process streams, the kernel dataplane, SIGTERM/SIGINT. */
export async function run(): Promise<void> {
  const io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env };
  const deps: CliDeps = {
    createDataplane: createKernelDataplane,
    waitForStop: () =>
      new Promise((resolve) => {
        process.once("SIGTERM", () => resolve("SIGTERM"));
        process.once("SIGINT", () => resolve("SIGINT"));
      }),
  };
  process.exitCode = await main(process.argv.slice(2), io, deps);
}
