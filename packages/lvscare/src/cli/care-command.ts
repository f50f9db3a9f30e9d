/**
 * `lvscare care`: validated flags and inputs first, then the dataplane, then one of the three
 * ways to use it: -C (clean), --run-once, or the daemon.
 */
import { DEFAULT_DATAPLANE, type DataplaneName } from "@lvscare/contracts/names";
import type { Endpoint } from "../address.ts";
import { type CareConfig, type RawCareOptions, parseCareConfig } from "../config.ts";
import { instrumentDataplane } from "../dataplane/instrumented.ts";
import { nftCommandTimeoutFor } from "../dataplane/nftables/timeouts.ts";
import type { Dataplane } from "../dataplane/types.ts";
import { UsageError } from "../errors.ts";
import { rulerFor } from "../host-setup.ts";
import { createLogger } from "../log.ts";
import type { CareMetrics } from "../metrics.ts";
import { clean, runOnce } from "../one-shot.ts";
import { HttpProber } from "../probe/http-prober.ts";
import { VERSION } from "../version.ts";
import { resolveCareInputs } from "./care-inputs.ts";
import { chooseDataplane } from "./dataplane-choice.ts";
import type { CliDeps, CliIo } from "./io.ts";
import { runDaemon } from "./run-daemon.ts";

export async function careCommand(raw: RawCareOptions, io: CliIo, deps: CliDeps, dataplaneName: DataplaneName = DEFAULT_DATAPLANE): Promise<number> {
  const config = parseCareConfig(raw);
  const { gateway, ca, masquerade } = resolveCareInputs(config, io);
  const logger = createLogger({
    format: config.logFormat,
    level: config.logLevel,
    ...(deps.logDestination ? { destination: deps.logDestination } : {}),
  });
  // -C removes the ruler by its identity (rulerTargetFor); only the loop and --run-once create one.
  const ruler = config.clean ? undefined : rulerFor(config, gateway);
  // Lazily: prom-client is a fifth of the daemon's resident memory, and only --metrics-addr uses it.
  const metrics =
    config.metricsAddr && !config.clean && !config.runOnce ? new (await import("../metrics.ts")).CareMetrics(config.realServers) : undefined;
  const createProber = (onConnectionLost: (master: Endpoint, error: Error) => void): HttpProber =>
    new HttpProber({
      health: config.health,
      ca,
      masters: config.realServers,
      keepAliveMs: Math.max(10_000, config.intervalMs * 3 + config.health.timeoutMs),
      userAgent: `lvscare/${VERSION}`,
      onConnectionLost,
    });

  const choice = await chooseDataplane(dataplaneName, deps.detectIpvs);
  logger.info({ dataplane: choice.kind, why: choice.why }, `dataplane: ${choice.kind}`);
  const opened = await deps.createDataplane({
    masquerade,
    kind: choice.kind,
    commandTimeoutMs: nftCommandTimeoutFor(config.intervalMs),
    onProcessLost: (message) => logger.warn(message),
    onWarning: (message) => logger.warn(message),
  });
  const dataplane = metrics ? instrumentDataplane(opened, metrics) : opened;
  try {
    requireSupport(config, opened);
    if (config.clean) {
      await clean(config, { dataplane, logger });
      return 0;
    }
    if (config.runOnce) {
      const prober = createProber(() => undefined);
      try {
        await runOnce(config, { dataplane, prober, ruler, logger });
      } finally {
        await prober.close();
      }
      return 0;
    }
    return await runDaemon(config, { dataplane, ruler, logger, metrics, createProber }, deps);
  } catch (err) {
    if (!(err instanceof UsageError)) logger.error({ err: err instanceof Error ? err.message : String(err) }, "failed");
    throw err;
  } finally {
    await opened.close();
  }
}

/** Flags the dataplane cannot honour are bad input (exit 2), found before anything is changed. */
function requireSupport(config: CareConfig, dataplane: Dataplane): void {
  if (config.clean) return;
  const { schedulers } = dataplane.capabilities;
  if (!schedulers.includes(config.scheduler)) {
    throw new UsageError(`--scheduler: the ${dataplane.kind} dataplane has no scheduler ${config.scheduler} (it has ${schedulers.join(", ")})`);
  }
}
