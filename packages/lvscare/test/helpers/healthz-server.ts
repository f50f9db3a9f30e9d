/**
 * A real HTTPS (or HTTP) server standing in for a kube-apiserver's /healthz, whose behaviour tests
 * switch at run time: answer 200, answer a status, hang without answering, redirect, or die
 * (connections reset, port closed).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import type { ServerCredentials } from "./pki.ts";

export type HealthzMode =
  | { readonly kind: "ok" }
  | { readonly kind: "status"; readonly status: number; readonly body?: string; readonly connectionClose?: boolean }
  | { readonly kind: "hang" }
  | { readonly kind: "redirect"; readonly location: string; readonly status?: number };

export interface HealthzRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
}

export class HealthzServer {
  readonly host: string;
  port = 0;
  mode: HealthzMode = { kind: "ok" };
  readonly requests: HealthzRequest[] = [];
  /** TCP (or TLS) connections accepted so far. */
  connections = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly hanging = new Set<ServerResponse>();
  private listening = false;

  constructor(host: string, credentials: ServerCredentials | undefined) {
    this.host = host;
    const handler = (req: IncomingMessage, res: ServerResponse): void => this.handle(req, res);
    this.server = credentials ? createHttpsServer({ key: credentials.key, cert: credentials.cert }, handler) : createHttpServer(handler);
    this.server.keepAliveTimeout = 60_000;
    this.server.on("connection", (socket: Socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
  }

  get endpoint(): string {
    return `${this.host}:${this.port}`;
  }

  /** Listens on `port` (0 = any free port; a restart reuses the previous one). */
  async start(port = this.port): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, this.host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    const address = this.server.address();
    if (address && typeof address === "object") this.port = address.port;
    this.listening = true;
    return this;
  }

  /** Like a killed apiserver: every connection reset, the port closed (new connections refused). */
  async kill(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    // The raw TCP sockets (also under TLS): a reset, as when the kernel reaps a killed process
    // that had unread data, and at least a close in every case.
    for (const socket of this.sockets) socket.resetAndDestroy();
    if (this.listening) {
      this.listening = false;
      await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }
  }

  /** Stops answering requests that are still hanging (switching back from "hang"). */
  releaseHanging(): void {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
  }

  /** Connections still open on the server's side. */
  get openConnections(): number {
    return this.sockets.size;
  }

  requestCount(): number {
    return this.requests.length;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      this.requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString() });
      const mode = this.mode;
      switch (mode.kind) {
        case "ok":
          res.writeHead(200, { "content-type": "text/plain" }).end("ok");
          return;
        case "status":
          res.writeHead(mode.status, { "content-type": "text/plain", ...(mode.connectionClose ? { connection: "close" } : {}) }).end(mode.body ?? "");
          return;
        case "hang":
          this.hanging.add(res);
          res.on("close", () => this.hanging.delete(res));
          return;
        case "redirect":
          res.writeHead(mode.status ?? 302, { location: mode.location }).end();
          return;
      }
    });
  }
}
