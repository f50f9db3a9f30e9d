/**
 * HTTP(S) health probes with undici: one kept-alive connection per master (so a steady probe
 * costs one request, no handshake), a throwaway connection for hedges, per-probe cancellation,
 * redirects followed. The master closing or resetting the idle kept-alive connection is reported
 * through `onConnectionLost`: it is often the first sign that an apiserver died.
 */
import { performance } from "node:perf_hooks";
import { Agent, type Dispatcher, interceptors } from "undici";
import { type Endpoint, formatEndpoint } from "../address.ts";
import { FIRST_CONTACT_TIMEOUT_MS, type HealthCheckConfig } from "../config.ts";
import { classifyError, summarizeBody } from "./classify.ts";
import type { ProbeOutcome } from "./outcome.ts";

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
const FAILURE_BODY_BYTES = 1024;

export class HttpProber implements Prober {
  private readonly options: HttpProberOptions;
  private readonly pooled = new Map<string, { agent: Agent; dispatcher: Dispatcher }>();
  private closed = false;

  constructor(options: HttpProberOptions) {
    this.options = options;
    for (const master of options.masters) {
      const agent = this.newAgent(options.keepAliveMs);
      // Our own aborts, idle timeouts and `Connection: close` answers are informational
      // (UND_ERR_INFO); only a close or reset coming from the master is news.
      agent.on("disconnect", (_origin, _targets, error) => {
        if (!this.closed && error.code !== "UND_ERR_INFO") options.onConnectionLost(master, error);
      });
      this.pooled.set(formatEndpoint(master), { agent, dispatcher: withRedirects(agent) });
    }
  }

  async probe(request: ProbeRequest): Promise<ProbeOutcome> {
    const started = performance.now();
    const elapsed = (): number => performance.now() - started;
    let throwaway: Agent | undefined;
    try {
      let dispatcher: Dispatcher;
      if (request.fresh) {
        throwaway = this.newAgent(1);
        dispatcher = withRedirects(throwaway);
      } else {
        const pooled = this.pooled.get(formatEndpoint(request.master));
        if (!pooled) throw new Error(`no probe connection for ${formatEndpoint(request.master)}`);
        dispatcher = pooled.dispatcher;
      }
      const { health } = this.options;
      const headers: Record<string, string> = { "user-agent": this.options.userAgent, ...health.headers };
      const response = await dispatcher.request({
        origin: `${health.scheme}://${formatEndpoint(request.master)}`,
        path: health.path,
        method: health.method as Dispatcher.HttpMethod,
        headers,
        body: health.body,
        signal: request.signal,
      });
      const status = response.statusCode;
      if (status < 400 || health.extraHealthyStatus.includes(status)) {
        await response.body.dump();
        return { ok: true, status, latencyMs: elapsed() };
      }
      const text = await readSome(response.body, FAILURE_BODY_BYTES);
      const summary = summarizeBody(text);
      return {
        ok: false,
        reason: "status",
        status,
        detail: summary === "" ? `HTTP ${status}` : `HTTP ${status}: ${summary}`,
        latencyMs: elapsed(),
      };
    } catch (err) {
      const { reason, detail } = request.signal.aborted
        ? { reason: "timeout" as const, detail: "cancelled" }
        : classifyError(err);
      return { ok: false, reason, detail, latencyMs: elapsed() };
    } finally {
      if (throwaway) void throwaway.destroy().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.pooled.values()].map(({ agent }) => agent.destroy().catch(() => undefined)));
  }

  private newAgent(keepAliveMs: number): Agent {
    const { health, ca } = this.options;
    // The controller cancels first (at the timeout, or the first-contact deadline); this only bounds leaks.
    const safetyNetMs = Math.max(health.timeoutMs, FIRST_CONTACT_TIMEOUT_MS) * 2 + 1000;
    return new Agent({
      connections: 1,
      pipelining: 1,
      // apiserver speaks h2 over ALPN, but an aborted h2 stream keeps a stalled session alive;
      // HTTP/1.1 (like upstream's Go client with its own TLS config) drops the socket instead.
      allowH2: false,
      keepAliveTimeout: keepAliveMs,
      keepAliveMaxTimeout: Math.max(keepAliveMs, 600_000),
      headersTimeout: safetyNetMs,
      bodyTimeout: safetyNetMs,
      connectTimeout: safetyNetMs,
      connect: {
        rejectUnauthorized: !health.insecureSkipVerify,
        ...(ca === undefined ? {} : { ca }),
      },
    });
  }
}

function withRedirects(agent: Agent): Dispatcher {
  return agent.compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTS }));
}

async function readSome(body: AsyncIterable<Buffer> & { destroy(): unknown }, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= limit) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, limit).toString("utf8");
}
