/**
 * Wraps a Dataplane to time every operation into the netlink latency histogram; results are
 * labelled "ok" or the errno name, so a flood of ESRCH is visible as such.
 */
import { performance } from "node:perf_hooks";
import type { CareMetrics } from "../metrics.ts";
import type { Dataplane } from "./types.ts";

export function instrumentDataplane(inner: Dataplane, metrics: CareMetrics): Dataplane {
  const timed =
    <A extends unknown[], R>(operation: string, call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const started = performance.now();
      let result = "ok";
      try {
        return await call(...args);
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        result = typeof code === "string" ? code : "error";
        throw err;
      } finally {
        metrics.dataplaneOperation(operation, result, (performance.now() - started) / 1000);
      }
    };
  return {
    getVirtualServer: timed("getVirtualServer", (a) => inner.getVirtualServer(a)),
    listDestinations: timed("listDestinations", (a) => inner.listDestinations(a)),
    addVirtualServer: timed("addVirtualServer", (s) => inner.addVirtualServer(s)),
    updateVirtualServer: timed("updateVirtualServer", (s) => inner.updateVirtualServer(s)),
    deleteVirtualServer: timed("deleteVirtualServer", (a) => inner.deleteVirtualServer(a)),
    addDestination: timed("addDestination", (v, d) => inner.addDestination(v, d)),
    updateDestination: timed("updateDestination", (v, d) => inner.updateDestination(v, d)),
    deleteDestination: timed("deleteDestination", (v, d) => inner.deleteDestination(v, d)),
    ensureRuler: timed("ensureRuler", (r) => inner.ensureRuler(r)),
    removeRuler: timed("removeRuler", (t) => inner.removeRuler(t)),
    setSysctl: timed("setSysctl", (n, v) => inner.setSysctl(n, v)),
    listAll: timed("listAll", () => inner.listAll()),
    close: () => inner.close(),
  };
}
