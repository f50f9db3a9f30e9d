// The line protocol between the kernel-suite runner (which runs where the IPVS kernel is: in the
// VM or on the host) and test/kernel.test.ts (which mirrors the results into the host's npm test).
//
// One JSON object a line, prefixed with a marker so that stray output on the same stream is
// never mistaken for a result.

export const PROTOCOL_MARKER = '@@lvscare-kernel@@ ';

export interface ReportedError {
  name: string;
  message: string;
  stack: string | undefined;
  /** node:test's failure type: testCodeFailure, subtestsFailed, hookFailed, testTimeoutFailure, cancelledByParent, ... */
  failureType: string | undefined;
}

/** One finished test or suite as node:test reported it. */
export interface ReportedTest {
  name: string;
  type: 'test' | 'suite';
  passed: boolean;
  durationMs: number;
  skip: string | undefined;
  todo: string | undefined;
  error: ReportedError | undefined;
}

/** What the custom reporter (kernel-reporter.ts) prints for one `node --test FILE` run. */
export type ReporterRecord =
  | ({ kind: 'test'; nesting: number } & ReportedTest)
  | { kind: 'diagnostic'; nesting: number; message: string }
  | { kind: 'output'; stream: 'stdout' | 'stderr'; text: string }
  | { kind: 'summary'; tests: number; suites: number; passed: number; failed: number };

/** What the suite runner (kernel-suite.ts) prints. `file` is relative to the repository root. */
export type SuiteRecord =
  | { kind: 'suite-start'; env: 'vm' | 'host'; kernelRelease: string; files: string[] }
  | { kind: 'file-start'; file: string }
  | { kind: 'report'; file: string; record: ReporterRecord }
  | {
      kind: 'file-end';
      file: string;
      code: number | null;
      signal: string | null;
      timedOut: boolean;
      durationMs: number;
      /** Output of the runner itself about this file (netns setup, node's own stderr). */
      runnerOutput: string;
    }
  | { kind: 'suite-end' };

export function encodeRecord(record: ReporterRecord | SuiteRecord): string {
  return `${PROTOCOL_MARKER}${JSON.stringify(record)}\n`;
}

/** Returns the record carried by a line, or undefined for a line that is not part of the protocol. */
export function decodeLine<T extends ReporterRecord | SuiteRecord>(line: string): T | undefined {
  const start = line.indexOf(PROTOCOL_MARKER);
  if (start < 0) return undefined;
  try {
    const value: unknown = JSON.parse(line.slice(start + PROTOCOL_MARKER.length));
    if (typeof value === 'object' && value !== null && typeof (value as { kind?: unknown }).kind === 'string') return value as T;
  } catch {
    // A damaged line is reported as plain output by the caller.
  }
  return undefined;
}

/** Splits a stream into lines, keeping the unfinished end for the next chunk. */
export class LineSplitter {
  private pending = '';

  push(chunk: string): string[] {
    this.pending += chunk;
    const lines = this.pending.split('\n');
    this.pending = lines.pop() ?? '';
    return lines;
  }

  end(): string[] {
    const rest = this.pending;
    this.pending = '';
    return rest === '' ? [] : [rest];
  }
}
