/** Why a probe failed, classified so logs and metrics can tell a dead master from a sick one. */
export type FailureReason =
  /** ECONNREFUSED: nothing listens (apiserver process gone). */
  | "refused"
  /** ECONNRESET or the connection closed before an answer. */
  | "reset"
  /** No answer within --health-timeout (blackhole, overload, lost packets). */
  | "timeout"
  /** Certificate or handshake problem; `detail` carries the OpenSSL/Node code. */
  | "tls"
  /** An answer with an unhealthy status code. */
  | "status"
  /** EHOSTUNREACH, ENETUNREACH, EHOSTDOWN: no route to the master. */
  | "unreachable"
  /** Anything else (detail says what). */
  | "error";

export type ProbeOutcome =
  | { readonly ok: true; readonly status: number; readonly latencyMs: number }
  | {
      readonly ok: false;
      readonly reason: FailureReason;
      /** One line for the log: "connection refused", "HTTP 500: [-]etcd failed", "tls CERT_HAS_EXPIRED". */
      readonly detail: string;
      readonly status?: number;
      readonly latencyMs: number;
    };

export function describeOutcome(outcome: ProbeOutcome): string {
  return outcome.ok ? `HTTP ${outcome.status}` : outcome.detail;
}
