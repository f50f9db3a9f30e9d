/**
 * Runs the real care loop (CareDaemon, HttpProber, real HTTPS servers) against the FAKE dataplane,
 * the one boundary this host cannot cross (it has no IPVS). Logs are captured as JSON records.
 */
import { Command } from "commander";
import { type Endpoint, parseEndpoint } from "../../src/address.ts";
import { CareDaemon } from "../../src/care.ts";
import { addCareOptions, collectCareOptions } from "../../src/cli/care-options.ts";
import { type CareConfig, parseCareConfig } from "../../src/config.ts";
import { FakeDataplane } from "../../src/dataplane/fake.ts";
import { rulerFor } from "../../src/host-setup.ts";
import { createLogger, type Logger } from "../../src/log.ts";
import type { CareMetrics } from "../../src/metrics.ts";
import { HttpProber } from "../../src/probe/http-prober.ts";

export type LogRecord = Record<string, unknown> & { level: number; msg: string };

export function captureLogger(): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const logger = createLogger({ format: "json", level: "debug", destination: { write: (line) => records.push(JSON.parse(line) as LogRecord) } });
  return { logger, records };
}

export function careConfig(args: readonly string[]): CareConfig {
  const command = new Command("care").exitOverride();
  addCareOptions(command);
  command.parse([...args], { from: "user" });
  return parseCareConfig(collectCareOptions(command, {}));
}

export interface RunningCare {
  readonly daemon: CareDaemon;
  readonly fake: FakeDataplane;
  readonly records: LogRecord[];
  readonly config: CareConfig;
  readonly vs: Endpoint;
  stop(): Promise<void>;
}

export async function startCare(
  args: readonly string[],
  options: { fake?: FakeDataplane; metrics?: CareMetrics; ca?: string; gateway?: string } = {},
): Promise<RunningCare> {
  const config = careConfig(args);
  const fake = options.fake ?? new FakeDataplane();
  const { logger, records } = captureLogger();
  const daemon = new CareDaemon({
    config,
    dataplane: fake,
    ruler: rulerFor(config, options.gateway ?? "192.168.0.10"),
    logger,
    metrics: options.metrics,
    createProber: (onConnectionLost) =>
      new HttpProber({
        health: config.health,
        ca: options.ca,
        masters: config.realServers,
        keepAliveMs: 30_000,
        userAgent: "lvscare-test",
        onConnectionLost,
      }),
  });
  await daemon.start();
  return { daemon, fake, records, config, vs: config.virtualServer, stop: () => daemon.stop() };
}

export function endpoint(text: string): Endpoint {
  return parseEndpoint(text, "test");
}
