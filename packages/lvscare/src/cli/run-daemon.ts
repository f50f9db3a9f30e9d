/**
 * The daemon's life as a process: the metrics server, start, wait for SIGTERM/SIGINT, stop (the
 * rules stay, so traffic flows through a restart).
 */
import type { Server } from "node:http";
import { formatEndpoint, type Endpoint } from "../address.ts";
import { CareDaemon } from "../care.ts";
import type { CareConfig } from "../config.ts";
import type { Dataplane, Ruler } from "../dataplane/types.ts";
import type { Logger } from "../log.ts";
import type { CareMetrics } from "../metrics.ts";
import type { Prober } from "../probe/http-prober.ts";
import type { CliDeps } from "./io.ts";

export interface DaemonParts {
  readonly dataplane: Dataplane;
  readonly ruler: Ruler | undefined;
  readonly logger: Logger;
  readonly metrics: CareMetrics | undefined;
  readonly createProber: (onConnectionLost: (master: Endpoint, error: Error) => void) => Prober;
}

export async function runDaemon(config: CareConfig, parts: DaemonParts, deps: CliDeps): Promise<number> {
  const { logger, metrics } = parts;
  const daemon = new CareDaemon({ config, ...parts });
  let server: Server | undefined;
  if (metrics && config.metricsAddr) {
    const { startMetricsServer } = await import("../metrics.ts");
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
