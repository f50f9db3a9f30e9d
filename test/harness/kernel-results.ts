// Collects the suite runner's protocol lines into one result per kernel test file, with the
// file's tests rebuilt as a tree (node:test reports a test after its subtests, in order).
import { tail } from './command.ts';
import { LineSplitter, decodeLine } from './kernel-protocol.ts';
import type { ReportedTest, ReporterRecord, SuiteRecord } from './kernel-protocol.ts';

export interface ReportedTestNode extends ReportedTest {
  diagnostics: string[];
  children: ReportedTestNode[];
}

export interface FileResult {
  file: string;
  tests: ReportedTestNode[];
  /** Number of test records received (tests and suites, at every depth). */
  reported: number;
  /** node:test's own count for the file (tests + suites), when it got that far. */
  expected: number | undefined;
  /** The test file's output and the runner's notes about it. */
  output: string;
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  /** Set when the file has no proper outcome: the suite stopped (VM crash, timeout) before it ended. */
  abortedBecause: string | undefined;
}

const OUTPUT_KEEP = 128 * 1024;

/** Rebuilds the test tree from records in reporting order: a record at depth n adopts the pending records at depth n+1. */
export class TestTreeBuilder {
  private readonly pending: ReportedTestNode[][] = [];
  count = 0;

  add(record: ReporterRecord): void {
    if (record.kind === 'test') {
      const { kind: _kind, nesting: _nesting, ...test } = record;
      const node: ReportedTestNode = { ...test, diagnostics: [], children: this.pending[record.nesting + 1] ?? [] };
      this.pending[record.nesting + 1] = [];
      (this.pending[record.nesting] ??= []).push(node);
      this.count += 1;
    } else if (record.kind === 'diagnostic') {
      // A test's diagnostics follow its own record, at its own depth.
      this.pending[record.nesting]?.at(-1)?.diagnostics.push(record.message);
    }
  }

  /** The top-level tests; subtests whose parent never reported (a crash) are kept as top-level too. */
  roots(): ReportedTestNode[] {
    return this.pending.flatMap((level) => level ?? []);
  }
}

interface FileState {
  tree: TestTreeBuilder;
  output: string;
  expected: number | undefined;
  resolve: (result: FileResult) => void;
  promise: Promise<FileResult>;
  settled: boolean;
}

export interface SuiteInfo {
  env: 'vm' | 'host';
  kernelRelease: string;
}

/** Feeds on the runner's stdout/stderr; hands out each file's result as soon as that file ends. */
export class SuiteCollector {
  private readonly files = new Map<string, FileState>();
  private readonly lines = new LineSplitter();
  private strayOutput = '';
  info: SuiteInfo | undefined;

  constructor(files: readonly string[]) {
    for (const file of files) {
      let resolve: (result: FileResult) => void = () => undefined;
      const promise = new Promise<FileResult>((done) => (resolve = done));
      this.files.set(file, { tree: new TestTreeBuilder(), output: '', expected: undefined, resolve, promise, settled: false });
    }
  }

  result(file: string): Promise<FileResult> {
    const state = this.files.get(file);
    if (state === undefined) return Promise.reject(new Error(`${file} is not part of this kernel suite run`));
    return state.promise;
  }

  pushStdout(chunk: string): void {
    for (const line of this.lines.push(chunk)) this.handleLine(line);
  }

  /** Output that is not a result (the runner's or the VM's stderr); shown when something fails. */
  pushStray(chunk: string): void {
    this.strayOutput = (this.strayOutput + chunk).slice(-OUTPUT_KEEP);
  }

  /** Ends the run: every file without an outcome fails with `reason` and the stray output. */
  finish(reason: string): void {
    for (const line of this.lines.end()) this.handleLine(line);
    for (const [file, state] of this.files) {
      if (!state.settled) this.settle(file, state, { code: null, signal: null, timedOut: false, durationMs: 0, abortedBecause: reason });
    }
  }

  strayTail(): string {
    return tail(this.strayOutput);
  }

  private handleLine(line: string): void {
    const record = decodeLine<SuiteRecord>(line);
    if (record === undefined) {
      this.pushStray(`${line}\n`);
      return;
    }
    switch (record.kind) {
      case 'suite-start':
        this.info = { env: record.env, kernelRelease: record.kernelRelease };
        break;
      case 'report': {
        const state = this.files.get(record.file);
        if (state === undefined) break;
        const inner = record.record;
        if (inner.kind === 'output') state.output = (state.output + inner.text).slice(-OUTPUT_KEEP);
        else if (inner.kind === 'summary') state.expected = inner.tests + inner.suites;
        else state.tree.add(inner);
        break;
      }
      case 'file-end': {
        const state = this.files.get(record.file);
        if (state === undefined) break;
        state.output = (state.output + record.runnerOutput).slice(-OUTPUT_KEEP);
        this.settle(record.file, state, { ...record, abortedBecause: undefined });
        break;
      }
      default:
        break;
    }
  }

  private settle(
    file: string,
    state: FileState,
    outcome: Pick<FileResult, 'code' | 'signal' | 'timedOut' | 'durationMs' | 'abortedBecause'>,
  ): void {
    state.settled = true;
    state.resolve({
      file,
      tests: state.tree.roots(),
      reported: state.tree.count,
      expected: state.expected,
      output: state.output,
      code: outcome.code,
      signal: outcome.signal,
      timedOut: outcome.timedOut,
      durationMs: outcome.durationMs,
      abortedBecause: outcome.abortedBecause,
    });
  }
}
