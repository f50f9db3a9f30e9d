/**
 * The stand-in API server keeps its objects in the real etcd, through etcd's v3 JSON gateway
 * (`/v3/kv/...`) with the API server's etcd client certificate, under kube-apiserver's key
 * layout (`/registry/minions/<node>`, `/registry/secrets/<ns>/<name>`...), as JSON instead of
 * protobuf. So every master sees every write, and an etcd that is down is an API that fails.
 */
import { readFileSync } from "node:fs";
import { request } from "node:https";

export interface StoredObject {
  readonly key: string;
  readonly value: Record<string, unknown>;
  readonly modRevision: string;
}

export interface EtcdTls {
  readonly servers: string[];
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

const b64 = (text: string) => Buffer.from(text).toString("base64");
const unb64 = (text: string) => Buffer.from(text, "base64").toString();

/** The end of the key range for a prefix, as etcd's `--prefix` computes it. */
function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix);
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) + 1;
  return bytes.toString("base64");
}

export class EtcdStore {
  readonly #tls: { ca: Buffer; cert: Buffer; key: Buffer };
  readonly #servers: URL[];

  constructor(options: EtcdTls) {
    this.#tls = { ca: readFileSync(options.caFile), cert: readFileSync(options.certFile), key: readFileSync(options.keyFile) };
    this.#servers = options.servers.map((server) => new URL(server));
  }

  async #call(path: string, body: unknown): Promise<Record<string, unknown>> {
    let lastError: unknown;
    for (const server of this.#servers) {
      try {
        return await new Promise((resolve, reject) => {
          const payload = Buffer.from(JSON.stringify(body));
          const req = request(
            {
              method: "POST",
              host: server.hostname.replace(/^\[|\]$/g, ""),
              port: Number(server.port || 2379),
              path,
              ...this.#tls,
              agent: false,
              timeout: 5000,
              headers: { "content-type": "application/json", "content-length": payload.length },
            },
            (response) => {
              const chunks: Buffer[] = [];
              response.on("data", (chunk: Buffer) => chunks.push(chunk));
              response.on("end", () => {
                const text = Buffer.concat(chunks).toString();
                if (response.statusCode !== 200) reject(new Error(`etcd ${path}: ${response.statusCode} ${text}`));
                else resolve(JSON.parse(text) as Record<string, unknown>);
              });
            },
          );
          req.on("timeout", () => req.destroy(new Error(`etcd ${server.host} timed out`)));
          req.on("error", reject);
          req.end(payload);
        });
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }

  async get(key: string): Promise<StoredObject | undefined> {
    const response = await this.#call("/v3/kv/range", { key: b64(key) });
    const kv = (response["kvs"] as { key: string; value: string; mod_revision: string }[] | undefined)?.[0];
    return kv === undefined ? undefined : { key, value: JSON.parse(unb64(kv.value)) as Record<string, unknown>, modRevision: kv.mod_revision };
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const response = await this.#call("/v3/kv/range", { key: b64(prefix), range_end: prefixEnd(prefix) });
    const kvs = (response["kvs"] as { key: string; value: string; mod_revision: string }[] | undefined) ?? [];
    return kvs.map((kv) => ({ key: unb64(kv.key), value: JSON.parse(unb64(kv.value)) as Record<string, unknown>, modRevision: kv.mod_revision }));
  }

  /** Creates the key only if it does not exist; false when it did. */
  async create(key: string, value: unknown): Promise<boolean> {
    const response = await this.#call("/v3/kv/txn", {
      compare: [{ key: b64(key), target: "CREATE", result: "EQUAL", create_revision: "0" }],
      success: [{ request_put: { key: b64(key), value: b64(JSON.stringify(value)) } }],
    });
    return response["succeeded"] === true;
  }

  async put(key: string, value: unknown): Promise<void> {
    await this.#call("/v3/kv/put", { key: b64(key), value: b64(JSON.stringify(value)) });
  }

  async delete(key: string): Promise<boolean> {
    const response = await this.#call("/v3/kv/deleterange", { key: b64(key) });
    return Number(response["deleted"] ?? 0) > 0;
  }

  /** A read through the quorum, for /readyz. */
  async healthy(): Promise<boolean> {
    try {
      await this.#call("/v3/kv/range", { key: b64("/registry/health"), serializable: false });
      return true;
    } catch {
      return false;
    }
  }
}
