/**
 * One HTTP(S) request and its answer with node:http/node:https, cancellable by a signal. The body
 * is read to the end (so a kept-alive connection can serve the next probe) up to a limit, keeping
 * its first bytes for the log; a longer body closes the connection instead.
 */
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import type { ProbeTarget } from "./redirect.ts";

export interface ExchangeOptions {
  readonly target: ProbeTarget;
  /** A kept-alive agent, or false for a connection of this request's own. */
  readonly agent: http.Agent | false;
  readonly rejectUnauthorized: boolean;
  readonly ca: string | undefined;
  readonly signal: AbortSignal;
  /** Every socket the request is given (a reused one or a new one). */
  readonly onSocket: (socket: Socket) => void;
  /** This side is about to close `socket` (a cancel, a `Connection: close` answer, a long body). */
  readonly onClosing: (socket: Socket) => void;
}

export interface Answer {
  readonly status: number;
  readonly location: string | undefined;
  /** The first bytes of the body, as text. */
  readonly text: string;
}

/** Bytes of the body kept for the log. */
const KEPT_BYTES = 1024;
/** A body longer than this is not worth reading to keep the connection. */
const DRAIN_LIMIT = 64 * 1024;

export function exchange(options: ExchangeOptions): Promise<Answer> {
  const { target, signal } = options;
  return new Promise<Answer>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const request = (target.url.protocol === "https:" ? https : http).request(target.url, {
      method: target.method,
      headers: target.headers,
      agent: options.agent,
      rejectUnauthorized: options.rejectUnauthorized,
      ...(options.ca === undefined ? {} : { ca: options.ca }),
    });
    let socket: Socket | undefined;
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      outcome();
    };
    const closeConnection = (): void => {
      if (socket) options.onClosing(socket);
      request.destroy();
    };
    function onAbort(): void {
      settle(() => reject(signal.reason));
      closeConnection();
    }
    signal.addEventListener("abort", onAbort, { once: true });

    request.on("socket", (given: Socket) => {
      socket = given;
      options.onSocket(given);
      if (settled) options.onClosing(given);
    });
    request.on("error", (error) => settle(() => reject(error)));
    request.on("response", (response: http.IncomingMessage) => {
      // The parser has read the answer's Connection header: false means the server closes now.
      if (!request.shouldKeepAlive && socket) options.onClosing(socket);
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      const kept: Buffer[] = [];
      let keptBytes = 0;
      let total = 0;
      const answer = (): Answer => ({ status, location, text: Buffer.concat(kept).subarray(0, KEPT_BYTES).toString("utf8") });
      response.on("data", (chunk: Buffer) => {
        if (keptBytes < KEPT_BYTES) {
          kept.push(chunk);
          keptBytes += chunk.length;
        }
        total += chunk.length;
        if (total > DRAIN_LIMIT && !settled) {
          settle(() => resolve(answer()));
          closeConnection();
        }
      });
      response.on("end", () => settle(() => resolve(answer())));
      response.on("error", (error) => settle(() => reject(error)));
      response.on("close", () => {
        if (!response.complete) settle(() => reject(Object.assign(new Error("connection closed before the end of the answer"), { code: "ECONNRESET" })));
      });
    });
    request.end(target.body);
  });
}
