/** A refused dataplane operation; `code` is the errno name the kernel answered (EEXIST, ESRCH, ...). */
export class DataplaneError extends Error {
  override readonly name = "DataplaneError";
  readonly code: string;
  readonly operation: string;

  constructor(operation: string, code: string, message: string) {
    super(`${operation}: ${message} (${code})`);
    this.code = code;
    this.operation = operation;
  }
}

/**
 * True for a refusal carrying the kernel's errno name `code` (any code when omitted). Duck-typed on
 * `code` so that errors passed through from @lvscare/ipvs-native (IpvsError) count as well.
 */
export function isDataplaneError(err: unknown, code?: string): err is Error & { code: string } {
  if (!(err instanceof Error)) return false;
  const actual = (err as { code?: unknown }).code;
  return typeof actual === "string" && (code === undefined || actual === code);
}
