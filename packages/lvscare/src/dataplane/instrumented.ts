/**
 * Wraps a Dataplane to time every call into the dataplane latency histogram; results are labelled
 * "ok" or the errno name, so a flood of ESRCH is visible as such.
 */
import { performance } from "node:perf_hooks";
import type { CareMetrics } from "../metrics.ts";
import { DataplaneApplyError } from "./error.ts";
import { OPERATION_NAMES } from "./ops.ts";
import type { Dataplane, DataplaneOp } from "./types.ts";
import { findInvalidOp } from "./validate.ts";

type Timer = <R>(operation: string, call: () => Promise<R>) => Promise<R>;

export function instrumentDataplane(inner: Dataplane, metrics: CareMetrics): Dataplane {
  const timed: Timer = async (operation, call) => {
    const started = performance.now();
    let result = "ok";
    try {
      return await call();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      result = typeof code === "string" ? code : "error";
      throw err;
    } finally {
      metrics.dataplaneOperation(operation, result, (performance.now() - started) / 1000);
    }
  };
  return {
    kind: inner.kind,
    capabilities: inner.capabilities,
    read: (address) => timed("read", () => inner.read(address)),
    apply: (ops) => applyTimed(inner, ops, timed),
    ensureRuler: (ruler) => timed("ensureRuler", () => inner.ensureRuler(ruler)),
    removeRuler: (target) => timed("removeRuler", () => inner.removeRuler(target)),
    setSysctl: (name, value) => timed("setSysctl", () => inner.setSysctl(name, value)),
    listAll: () => timed("listAll", () => inner.listAll()),
    close: () => inner.close(),
  };
}

/**
 * A backend that applies op by op (IPVS: one netlink request each) is timed op by op, labelled
 * with the op's name; a transactional one per transaction, labelled "apply". Splitting changes
 * nothing for the former: once the whole list passed the up-front checks, its apply(ops) is by
 * contract apply([op]) for each op in turn, up to the first refusal.
 */
async function applyTimed(inner: Dataplane, ops: readonly DataplaneOp[], timed: Timer): Promise<void> {
  if (inner.capabilities.atomicApply || findInvalidOp(ops, inner.capabilities) !== undefined) {
    return timed("apply", () => inner.apply(ops));
  }
  for (const [index, op] of ops.entries()) {
    try {
      await timed(OPERATION_NAMES[op.kind], () => inner.apply([op]));
    } catch (err) {
      throw err instanceof DataplaneApplyError ? new DataplaneApplyError(ops, index, index, err.cause) : err;
    }
  }
}
