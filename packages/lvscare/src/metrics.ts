/**
 * Prometheus metrics (prom-client, a registry of our own) and the small HTTP server that serves
 * them with /healthz and /readyz. Off unless --metrics-addr is set.
 */
import { createServer, type Server } from "node:http";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { type Endpoint, formatEndpoint, type ListenAddress } from "./address.ts";
import type { Health } from "./controller/health.ts";
import type { FailureReason } from "./probe/outcome.ts";

const PROBE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LAG_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const DATAPLANE_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1];

export class CareMetrics {
  readonly registry = new Registry();
  private readonly masterUp: Gauge<"master">;
  private readonly masterState: Gauge<"master" | "state">;
  private readonly transitions: Counter<"master" | "to">;
  private readonly probes: Counter<"master" | "role" | "result">;
  private readonly probeDuration: Histogram<"master" | "result">;
  private readonly probesInconclusive: Counter<"master" | "role">;
  private readonly eventLoopLag: Histogram;
  private readonly reconciles: Counter;
  private readonly reconcileErrors: Counter;
  private readonly dataplaneOps: Histogram<"operation" | "result">;
  private readonly allDown: Gauge;
  private readonly destinations: Gauge;

  constructor(masters: readonly Endpoint[]) {
    const registers = [this.registry];
    this.masterUp = new Gauge({
      name: "lvscare_master_up",
      help: "1 when the master passes its health checks, 0 when it is down or not probed yet",
      labelNames: ["master"],
      registers,
    });
    this.masterState = new Gauge({
      name: "lvscare_master_state",
      help: "Health state of each master (1 for the current state: unknown, up or down)",
      labelNames: ["master", "state"],
      registers,
    });
    this.transitions = new Counter({
      name: "lvscare_master_transitions_total",
      help: "Health state changes per master, by new state",
      labelNames: ["master", "to"],
      registers,
    });
    this.probes = new Counter({
      name: "lvscare_probes_total",
      help: "Health probes finished, by role (primary, hedge) and result (ok or the failure reason)",
      labelNames: ["master", "role", "result"],
      registers,
    });
    this.probeDuration = new Histogram({
      name: "lvscare_probe_duration_seconds",
      help: "Health probe latency (answered probes; timeouts count at the timeout)",
      labelNames: ["master", "result"],
      buckets: PROBE_BUCKETS,
      registers,
    });
    this.probesInconclusive = new Counter({
      name: "lvscare_probe_inconclusive_total",
      help: "Probe timeouts not counted as failures because the daemon's event loop was stalled during the deadline",
      labelNames: ["master", "role"],
      registers,
    });
    this.eventLoopLag = new Histogram({
      name: "lvscare_event_loop_lag_seconds",
      help: "How late the daemon's lag-sampling timer fired (time the daemon did not run: CPU quota, busy node, GC)",
      buckets: LAG_BUCKETS,
      registers,
    });
    this.reconciles = new Counter({ name: "lvscare_reconciles_total", help: "Reconcile passes", registers });
    this.reconcileErrors = new Counter({
      name: "lvscare_reconcile_errors_total",
      help: "Reconcile passes that failed (the kernel refused an operation or IPVS is unavailable)",
      registers,
    });
    this.dataplaneOps = new Histogram({
      name: "lvscare_dataplane_operation_duration_seconds",
      help: "Latency of dataplane (netlink) operations, by operation and result (ok or errno name)",
      labelNames: ["operation", "result"],
      buckets: DATAPLANE_BUCKETS,
      registers,
    });
    this.allDown = new Gauge({
      name: "lvscare_all_masters_down",
      help: "1 while every master fails its health checks (--all-down decides what the table holds)",
      registers,
    });
    this.destinations = new Gauge({
      name: "lvscare_destinations",
      help: "Real servers in the virtual server after the last reconcile",
      registers,
    });
    collectDefaultMetrics({ register: this.registry, prefix: "lvscare_" });
    for (const master of masters) this.setHealth(master, "unknown");
  }

  setHealth(master: Endpoint, health: Health): void {
    const label = formatEndpoint(master);
    this.masterUp.set({ master: label }, health === "up" ? 1 : 0);
    for (const state of ["unknown", "up", "down"] as const) {
      this.masterState.set({ master: label, state }, state === health ? 1 : 0);
    }
  }

  transition(master: Endpoint, to: Health): void {
    this.transitions.inc({ master: formatEndpoint(master), to });
    this.setHealth(master, to);
  }

  probe(master: Endpoint, role: string, result: "ok" | FailureReason, seconds: number): void {
    const label = formatEndpoint(master);
    this.probes.inc({ master: label, role, result });
    this.probeDuration.observe({ master: label, result }, seconds);
  }

  probeInconclusive(master: Endpoint, role: string): void {
    this.probesInconclusive.inc({ master: formatEndpoint(master), role });
  }

  loopLag(seconds: number): void {
    this.eventLoopLag.observe(seconds);
  }

  reconciled(destinations: number): void {
    this.reconciles.inc();
    this.destinations.set(destinations);
  }

  reconcileFailed(): void {
    this.reconciles.inc();
    this.reconcileErrors.inc();
  }

  dataplaneOperation(operation: string, result: string, seconds: number): void {
    this.dataplaneOps.observe({ operation, result }, seconds);
  }

  setAllDown(allDown: boolean): void {
    this.allDown.set(allDown ? 1 : 0);
  }
}

export interface MetricsStatus {
  /** The care loop is alive (ticking). */
  healthy(): boolean;
  /** The first reconcile has completed. */
  ready(): boolean;
}

/** Serves /metrics, /healthz and /readyz; resolves once listening. */
export async function startMetricsServer(address: ListenAddress, metrics: CareMetrics, status: MetricsStatus): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    const answer = (ok: boolean): void => {
      res.writeHead(ok ? 200 : 503, { "content-type": "text/plain; charset=utf-8" }).end(ok ? "ok\n" : "not ok\n");
    };
    switch (path) {
      case "/metrics":
        metrics.registry.metrics().then(
          (text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
          (err: unknown) => res.writeHead(500).end(String(err)),
        );
        return;
      case "/healthz":
      case "/livez":
        answer(status.healthy());
        return;
      case "/readyz":
        answer(status.ready());
        return;
      default:
        res.writeHead(404).end("not found\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(address.port, address.ip, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}
