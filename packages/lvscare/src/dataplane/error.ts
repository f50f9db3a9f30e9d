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

export function isDataplaneError(err: unknown, code?: string): err is DataplaneError {
  return err instanceof DataplaneError && (code === undefined || err.code === code);
}
