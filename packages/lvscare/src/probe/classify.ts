/**
 * Turns what Node's http/https/tls throw into a FailureReason and one log-friendly line. The
 * whole `cause` chain is searched, so a wrapped socket error is still recognised.
 */
import type { FailureReason } from "./outcome.ts";

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_|EPROTO$|ERR_OSSL_)/;

export function classifyError(err: unknown): { reason: FailureReason; detail: string } {
  const codes: string[] = [];
  const messages: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") codes.push(code);
    messages.push(current.message);
    current = (current as { cause?: unknown }).cause;
  }
  const has = (...wanted: string[]): boolean => codes.some((c) => wanted.includes(c));
  const firstMessage = oneLine(messages[0] ?? String(err));

  if (has("ECONNREFUSED")) return { reason: "refused", detail: "connection refused" };
  if (has("EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN", "ENETDOWN")) {
    return { reason: "unreachable", detail: `unreachable (${codes.find((c) => c.startsWith("E")) ?? "no route"})` };
  }
  const tlsCode = codes.find((c) => TLS_CODE.test(c));
  if (tlsCode !== undefined) return { reason: "tls", detail: `tls ${tlsCode}: ${firstMessage}` };
  if (has("ETIMEDOUT")) {
    return { reason: "timeout", detail: `timeout (${codes[0]})` };
  }
  if (has("ECONNRESET", "EPIPE")) return { reason: "reset", detail: "connection reset" };
  return { reason: "error", detail: codes.length > 0 ? `${codes[0]}: ${firstMessage}` : firstMessage };
}

/** apiserver's /healthz failure body lists checks as `[-]etcd failed: reason withheld`; keep those. */
export function summarizeBody(body: string): string {
  const failed = body
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.startsWith("[-]"));
  const text = failed.length > 0 ? failed.join("; ") : body;
  const line = oneLine(text);
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}
