/**
 * Runs inside a network namespace whose loopback carries the VIP and the master addresses
 * (see tls.test.ts): starts one HTTPS server per master with that master's rendered API server
 * certificate, requiring client certificates from the cluster CA, then connects as a client that
 * trusts only the given CA and prints one JSON line per connection.
 */
import { readFileSync } from "node:fs";
import { createServer, get, type Server } from "node:https";
import type { PeerCertificate, TLSSocket } from "node:tls";

interface ProbeInput {
  servers: { port: number; cert: string; key: string; clientCa: string }[];
  attempts: { label: string; host: string; port: number; ca: string; cert?: string; key?: string }[];
}

export interface ProbeResult {
  label: string;
  ok: boolean;
  /** What the server saw of the client certificate (mTLS identity), on success. */
  peer?: { CN: string; O?: string };
  /** The server certificate's subject CN, on success. */
  server?: string;
  error?: string;
}

const input = JSON.parse(readFileSync(process.argv[2] ?? "", "utf8")) as ProbeInput;
const read = (path: string) => readFileSync(path);

const servers: Server[] = await Promise.all(
  input.servers.map(
    (spec) =>
      new Promise<Server>((resolve, reject) => {
        const server = createServer(
          { cert: read(spec.cert), key: read(spec.key), ca: read(spec.clientCa), requestCert: true, rejectUnauthorized: true },
          (request, response) => {
            const peer = (request.socket as TLSSocket).getPeerCertificate();
            response.end(JSON.stringify({ CN: peer.subject.CN, O: [peer.subject.O].flat().join(",") }));
          },
        );
        server.once("error", reject);
        server.listen(spec.port, "0.0.0.0", () => resolve(server));
      }),
  ),
);

function attempt(spec: ProbeInput["attempts"][number]): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const request = get(
      {
        host: spec.host,
        port: spec.port,
        path: "/",
        ca: read(spec.ca),
        ...(spec.cert !== undefined && spec.key !== undefined ? { cert: read(spec.cert), key: read(spec.key) } : {}),
        agent: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        const server = (response.socket as TLSSocket).getPeerCertificate() as PeerCertificate;
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({ label: spec.label, ok: true, peer: JSON.parse(Buffer.concat(chunks).toString()), server: [server.subject.CN].flat().join(",") }),
        );
      },
    );
    request.on("error", (error: NodeJS.ErrnoException) => resolve({ label: spec.label, ok: false, error: error.code ?? error.message }));
  });
}

for (const spec of input.attempts) process.stdout.write(`${JSON.stringify(await attempt(spec))}\n`);
await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
