/**
 * HTTP(S) health probes with node:http/node:https: one kept-alive connection per master (so a
 * steady probe costs one request, no handshake), a connection of its own for hedges, per-probe
 * cancellation, redirects followed. The master closing or resetting the idle kept-alive
 * connection is reported through `onConnectionLost`: it is often the first sign that an
 * apiserver died.
 *
 * Not undici: in the shipped daemon undici alone held about 28 MB of resident memory (its
 * WebAssembly HTTP parser and its module graph), a third of the process, for one request per
 * second per master (BENCHMARKS.md, "The daemon's memory").
 */
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { type Endpoint, formatEndpoint } from "../address.ts";
import { FIRST_CONTACT_TIMEOUT_MS, type HealthCheckConfig } from "../config.ts";
import { classifyError, summarizeBody } from "./classify.ts";
import { exchange } from "./http-exchange.ts";
import type { ProbeOutcome } from "./outcome.ts";
import { type ProbeTarget, redirectTarget } from "./redirect.ts";

export interface ProbeRequest {
  readonly master: Endpoint;
  /** Open a new connection instead of reusing the kept-alive one (hedges). */
  readonly fresh: boolean;
  readonly signal: AbortSignal;
}

export interface Prober {
  probe(request: ProbeRequest): Promise<ProbeOutcome>;
  close(): Promise<void>;
}

export interface HttpProberOptions {
  readonly health: HealthCheckConfig;
  /** PEM bundle from --health-ca-file. */
  readonly ca: string | undefined;
  readonly masters: readonly Endpoint[];
  /** How long an idle probe connection stays open; longer than the probe interval. */
  readonly keepAliveMs: number;
  readonly userAgent: string;
  readonly onConnectionLost: (master: Endpoint, error: Error) => void;
}

const MAX_REDIRECTS = 5;

/** A master's kept-alive agents, one per scheme (a redirect may switch scheme). */
interface MasterPool {
  readonly master: Endpoint;
  readonly agents: Map<string, http.Agent>;
}

export class HttpProber implements Prober {
  private readonly options: HttpProberOptions;
  private readonly pools = new Map<string, MasterPool>();
  /** Sockets this side is closing: their end is not news about the master. */
  private readonly closing = new WeakSet<Socket>();
  private readonly watched = new WeakSet<Socket>();
  private readonly safetyNetMs: number;
  private closed = false;

  constructor(options: HttpProberOptions) {
    this.options = options;
    // The controller cancels first (at the timeout, or the first-contact deadline); this only bounds leaks.
    this.safetyNetMs = Math.max(options.health.timeoutMs, FIRST_CONTACT_TIMEOUT_MS) * 2 + 1000;
    for (const master of options.masters) this.pools.set(formatEndpoint(master), { master, agents: new Map() });
  }

  async probe(request: ProbeRequest): Promise<ProbeOutcome> {
    const started = performance.now();
    const elapsed = (): number => performance.now() - started;
    const cancel = new AbortController();
    const onCallerAbort = (): void => cancel.abort(request.signal.reason);
    request.signal.addEventListener("abort", onCallerAbort, { once: true });
    if (request.signal.aborted) onCallerAbort();
    const safetyNet = setTimeout(() => cancel.abort(new Error("safety net")), this.safetyNetMs);
    try {
      const pool = request.fresh ? undefined : this.pools.get(formatEndpoint(request.master));
      if (!request.fresh && !pool) throw new Error(`no probe connection for ${formatEndpoint(request.master)}`);
      const { health, ca } = this.options;
      let target: ProbeTarget = {
        url: new URL(`${health.scheme}://${formatEndpoint(request.master)}${health.path}`),
        method: health.method,
        headers: { "user-agent": this.options.userAgent, ...health.headers },
        body: health.body,
      };
      for (let hop = 0; ; hop++) {
        const agent = pool ? this.agentFor(pool, target.url.protocol) : false;
        const answer = await exchange({
          target,
          agent,
          rejectUnauthorized: !health.insecureSkipVerify,
          ca,
          signal: cancel.signal,
          onSocket: (socket) => {
            if (pool && agent) this.watch(pool.master, agent, socket);
          },
          onClosing: (socket) => this.closing.add(socket),
        });
        // Past the limit the last 3xx stands as the answer (a status below 400), as undici's redirect interceptor did.
        const next = hop < MAX_REDIRECTS ? redirectTarget(target, answer.status, answer.location) : undefined;
        if (next) {
          target = next;
          continue;
        }
        const status = answer.status;
        if (status < 400 || health.extraHealthyStatus.includes(status)) return { ok: true, status, latencyMs: elapsed() };
        const summary = summarizeBody(answer.text);
        return {
          ok: false,
          reason: "status",
          status,
          detail: summary === "" ? `HTTP ${status}` : `HTTP ${status}: ${summary}`,
          latencyMs: elapsed(),
        };
      }
    } catch (err) {
      if (request.signal.aborted) return { ok: false, reason: "timeout", detail: "cancelled", latencyMs: elapsed() };
      if (cancel.signal.aborted) return { ok: false, reason: "timeout", detail: `timeout (no answer within ${this.safetyNetMs} ms)`, latencyMs: elapsed() };
      const { reason, detail } = classifyError(err);
      return { ok: false, reason, detail, latencyMs: elapsed() };
    } finally {
      clearTimeout(safetyNet);
      request.signal.removeEventListener("abort", onCallerAbort);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pool of this.pools.values()) for (const agent of pool.agents.values()) agent.destroy();
  }

  private agentFor(pool: MasterPool, protocol: string): http.Agent {
    let agent = pool.agents.get(protocol);
    if (!agent) {
      const options: http.AgentOptions = {
        keepAlive: true,
        // TCP keepalive on the idle connection, as undici set it (Node's default is 1 s).
        keepAliveMsecs: 60_000,
        // One connection, one request at a time: a steady probe never opens a second one.
        maxSockets: 1,
        maxFreeSockets: 1,
        // Idle this long, the connection is closed (Node shortens it to a server's Keep-Alive hint).
        timeout: this.options.keepAliveMs,
        scheduling: "lifo",
      };
      const created = protocol === "https:" ? new https.Agent(options) : new http.Agent(options);
      // A server's Keep-Alive hint of 1 s or less makes the agent close the socket after the answer.
      const keepSocketAlive = created.keepSocketAlive.bind(created) as (socket: Socket) => boolean;
      created.keepSocketAlive = (socket: Socket): boolean => {
        const kept = keepSocketAlive(socket);
        if (!kept) this.closing.add(socket);
        return kept;
      };
      agent = created;
      pool.agents.set(protocol, agent);
    }
    return agent;
  }

  /**
   * Reports a kept-alive `socket` closing unless this side closed it (cancels, `Connection: close` answers,
   * idle timeouts, close()). Watching "close" rather than "end"/"error": a reset idle TLS socket
   * may close with neither.
   */
  private watch(master: Endpoint, agent: http.Agent, socket: Socket): void {
    if (this.watched.has(socket)) return;
    this.watched.add(socket);
    let error: Error | undefined;
    socket.on("error", (e) => (error ??= e));
    // Only a connection that has served an answer is a kept-alive one; a failed connect or a
    // request cut short is the probe's own failure, already reported by it.
    let kept = false;
    socket.on("free", () => (kept = true));
    // The agent destroys a free socket on its idle timeout (its own "timeout" listener).
    socket.on("timeout", () => {
      if (Object.values(agent.freeSockets).some((free) => free?.includes(socket))) this.closing.add(socket);
    });
    socket.once("close", () => {
      if (!kept || this.closed || this.closing.has(socket)) return;
      this.options.onConnectionLost(master, error ?? new Error("the master closed the connection"));
    });
  }
}
