/**
 * A minimal HTTPS client for the stand-in API server: client certificates or a bearer token,
 * the CA pinned, or (discovery's first fetch only) no verification at all, as kubeadm does it.
 */
import { request } from "node:https";
import type { KubeconfigCredentials } from "./kubeconfig.ts";

export interface ApiResponse {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
}

export interface ClientOptions {
  readonly insecure?: boolean;
  readonly timeoutMs?: number;
}

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export function apiRequest(credentials: KubeconfigCredentials, method: string, path: string, body?: unknown, options: ClientOptions = {}): Promise<ApiResponse> {
  const url = new URL(path, credentials.server);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        method,
        host: url.hostname.replace(/^\[|\]$/g, ""),
        port: url.port === "" ? 443 : Number(url.port),
        path: `${url.pathname}${url.search}`,
        agent: false,
        rejectUnauthorized: options.insecure !== true,
        ...(options.insecure === true ? {} : { ca: credentials.caPem }),
        ...(credentials.certPem !== undefined && credentials.keyPem !== undefined ? { cert: credentials.certPem, key: credentials.keyPem } : {}),
        headers: {
          accept: "application/json",
          "user-agent": "kubeadm/fake (lvscare test double)",
          ...(credentials.token !== undefined ? { authorization: `Bearer ${credentials.token}` } : {}),
          ...(payload !== undefined ? { "content-type": method === "PATCH" ? "application/merge-patch+json" : "application/json", "content-length": payload.length } : {}),
        },
        timeout: options.timeoutMs ?? 10_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString();
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // health endpoints answer plain text
          }
          resolve({ status: response.statusCode ?? 0, body: parsed, text });
        });
        response.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`request to ${url.href} timed out`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/** The message of a Kubernetes Status body, or the raw text. */
export function statusMessage(response: ApiResponse): string {
  const body = response.body as { message?: unknown } | null;
  return typeof body === "object" && body !== null && typeof body.message === "string" ? body.message : response.text.trim();
}

export async function apiOk(credentials: KubeconfigCredentials, method: string, path: string, body?: unknown, options?: ClientOptions): Promise<unknown> {
  const response = await apiRequest(credentials, method, path, body, options);
  if (response.status < 200 || response.status > 299) throw new ApiError(response.status, `${method} ${path}: ${response.status} ${statusMessage(response)}`);
  return response.body;
}
