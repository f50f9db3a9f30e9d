import { describeOp } from "./ops.ts";
import type { DataplaneOp } from "./types.ts";

/** A refused dataplane operation; `code` is the errno name the kernel answered (EEXIST, ESRCH, ...). */
export class DataplaneError extends Error {
  override readonly name: string = "DataplaneError";
  readonly code: string;
  readonly operation: string;
  /** The refusal in words, without operation and code ("Service already exists"). */
  readonly detail: string;

  constructor(operation: string, code: string, detail: string) {
    super(`${operation}: ${detail} (${code})`);
    this.code = code;
    this.operation = operation;
    this.detail = detail;
  }
}

/**
 * apply() was refused at `ops[failedIndex]`. `applied` is what took effect before (a prefix of
 * the ops; empty for an atomic backend and for bad input), `cause` the refusal itself.
 */
export class DataplaneApplyError extends DataplaneError {
  override readonly name = "DataplaneApplyError";
  /** The refusal of `failed`, with its errno name. */
  override readonly cause: Error & { code: string };
  readonly applied: readonly DataplaneOp[];
  readonly failed: DataplaneOp;
  readonly failedIndex: number;

  constructor(ops: readonly DataplaneOp[], failedIndex: number, applied: number, cause: Error & { code: string }) {
    const failed = ops[failedIndex];
    if (failed === undefined || applied > failedIndex) throw new RangeError(`no op ${failedIndex} after ${applied} applied`);
    const reason = cause instanceof DataplaneError ? cause.detail : cause.message;
    const effect = applied === 0 ? "nothing applied" : `the ${applied} before it applied`;
    super("apply", cause.code, `${describeOp(failed)} (op ${failedIndex + 1} of ${ops.length}, ${effect}): ${reason}`);
    this.cause = cause;
    this.applied = ops.slice(0, applied);
    this.failed = failed;
    this.failedIndex = failedIndex;
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
