/**
 * The two commands that touch the kernel once and exit: `--run-once` (used by sealos before
 * `kubeadm join`, whose discovery goes through the VIP) and `-C/--clean`.
 */
import { formatEndpoint } from "./address.ts";
import type { CareConfig } from "./config.ts";
import { desiredDestinations } from "./controller/desired.ts";
import { DataplaneApplyError } from "./dataplane/error.ts";
import { describeOp } from "./dataplane/ops.ts";
import type { Dataplane, Ruler } from "./dataplane/types.ts";
import { desiredState } from "./desired-state.ts";
import { applySysctls, describeRuler, rulerTargetFor } from "./host-setup.ts";
import type { Logger } from "./log.ts";
import type { Prober } from "./probe/http-prober.ts";
import { probeOnce } from "./probe/probe-once.ts";
import { describeOutcome } from "./probe/outcome.ts";
import { reconcile } from "./reconcile.ts";

export interface RunOnceSummary {
  readonly healthy: number;
  readonly total: number;
  readonly allDown: boolean;
}

/**
 * Probes every master once (concurrently, bounded by hedge delay + timeout), programs the healthy
 * ones, and returns. With none healthy, --all-down decides (keep: all of them). There is no loop
 * round after it: the rules are exactly what this single look decided.
 */
export async function runOnce(
  config: CareConfig,
  deps: { dataplane: Dataplane; prober: Prober; ruler: Ruler | undefined; logger: Logger },
): Promise<RunOnceSummary> {
  const { dataplane, prober, ruler, logger } = deps;
  await applySysctls(dataplane, config, logger);
  if (ruler) {
    await dataplane.ensureRuler(ruler);
    logger.info(`${describeRuler(ruler)}: in place`);
  }
  const outcomes = await Promise.all(
    config.realServers.map((master) => probeOnce(prober, master, { timeoutMs: config.firstContactTimeoutMs, hedgeDelayMs: config.hedgeDelayMs })),
  );
  const masters = config.realServers.map((address, i) => {
    const outcome = outcomes[i];
    const health = outcome?.ok ? ("up" as const) : ("down" as const);
    logger.info({ master: formatEndpoint(address), result: outcome ? describeOutcome(outcome) : "no result" }, `master ${formatEndpoint(address)} ${health}`);
    return { address, health };
  });
  const desired = desiredDestinations(masters, config.allDown);
  if (desired.allDown) {
    logger.error(
      config.allDown === "keep"
        ? "no master passed its health check: programming all of them (--all-down keep)"
        : "no master passed its health check: programming none (--all-down remove)",
    );
  }
  const { applied } = await reconcile(dataplane, desiredState(config, desired.destinations), (op) =>
    logger.info({ reason: op.reason }, `${dataplane.kind}: ${describeOp(op)}`),
  );
  const healthy = masters.filter((m) => m.health === "up").length;
  logger.info({ healthy, total: masters.length, operations: applied.length }, "run-once done");
  return { healthy, total: masters.length, allDown: desired.allDown };
}

/**
 * Removes our virtual server, the mode's ruler and the dataplane's own tables (nftables), nothing
 * else (other virtual servers, other routes and interfaces, other tables stay). Absent pieces are fine: cleaning twice succeeds.
 */
export async function clean(config: CareConfig, deps: { dataplane: Dataplane; logger: Logger }): Promise<void> {
  const { dataplane, logger } = deps;
  const vs = formatEndpoint(config.virtualServer);
  try {
    await dataplane.apply([{ kind: "delete-virtual-server", address: config.virtualServer, reason: "-C" }]);
    logger.info({ vs }, "removed virtual server");
  } catch (err) {
    if (!(err instanceof DataplaneApplyError && err.code === "ESRCH")) throw err;
    logger.info({ vs }, "no virtual server to remove");
  }
  const target = rulerTargetFor(config);
  if (target) {
    await dataplane.removeRuler(target);
    logger.info({ mode: target.mode }, `removed the ${target.mode}-mode ruler`);
  }
  if (dataplane.removeOwnTables) {
    await dataplane.removeOwnTables();
    logger.info(`removed the ${dataplane.kind} dataplane's own tables`);
  }
}
