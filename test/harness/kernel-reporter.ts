// A node:test reporter for the kernel suite: prints each finished test (name, nesting, duration,
// error), the test file's own output and its counts as protocol lines (kernel-protocol.ts), so the
// host can re-create every test of a kernel file in its own npm test run.
//   node --test --test-reporter=./test/harness/kernel-reporter.ts --test-reporter-destination=stdout FILE
import type { TestEvent } from 'node:test/reporters';
import { encodeRecord } from './kernel-protocol.ts';
import type { ReportedError, ReporterRecord } from './kernel-protocol.ts';

function describeError(error: unknown): ReportedError {
  // node:test wraps what the test threw in an ERR_TEST_FAILURE whose cause is the real error.
  const wrapper = error as { cause?: unknown; failureType?: unknown; exitCode?: unknown; signal?: unknown } | null;
  const failureType = typeof wrapper?.failureType === 'string' ? wrapper.failureType : undefined;
  // A test file whose process died (a crash, a signal) is reported as a bare "test failed" with
  // the exit status beside it: without it the host sees no reason at all.
  const exit = [
    typeof wrapper?.exitCode === 'number' && wrapper.exitCode !== 0 ? `exit status ${wrapper.exitCode}` : undefined,
    typeof wrapper?.signal === 'string' ? `signal ${wrapper.signal}` : undefined,
  ].filter((part) => part !== undefined);
  const suffix = exit.length > 0 ? ` (the test process ended with ${exit.join(', ')})` : '';
  const real = wrapper?.cause instanceof Error ? wrapper.cause : error;
  if (real instanceof Error) return { name: real.name, message: real.message + suffix, stack: real.stack?.replace(real.message, real.message + suffix), failureType };
  return { name: 'Error', message: String(real) + suffix, stack: undefined, failureType };
}

function optionalText(value: string | boolean | undefined): string | undefined {
  if (value === undefined || value === false) return undefined;
  return value === true ? '' : value;
}

export function toRecord(event: TestEvent): ReporterRecord | undefined {
  switch (event.type) {
    case 'test:pass':
    case 'test:fail': {
      const { data } = event;
      return {
        kind: 'test',
        name: data.name,
        nesting: data.nesting,
        type: data.details.type ?? 'test',
        passed: event.type === 'test:pass',
        durationMs: data.details.duration_ms,
        skip: optionalText(data.skip),
        todo: optionalText(data.todo),
        error: event.type === 'test:fail' ? describeError(event.data.details.error) : undefined,
      };
    }
    case 'test:diagnostic':
      // Diagnostics without a file are the runner's closing counts, not a test's.
      return event.data.file === undefined ? undefined : { kind: 'diagnostic', nesting: event.data.nesting, message: event.data.message };
    case 'test:stdout':
    case 'test:stderr':
      return { kind: 'output', stream: event.type === 'test:stdout' ? 'stdout' : 'stderr', text: event.data.message };
    case 'test:summary': {
      if (event.data.file === undefined) return undefined;
      const { counts } = event.data;
      // Older @types/node lack `failed`; Node 24 reports it.
      const failed = (counts as { failed?: number }).failed ?? counts.tests - counts.passed - counts.skipped - counts.todo - counts.cancelled;
      return { kind: 'summary', tests: counts.tests, suites: counts.suites, passed: counts.passed, failed };
    }
    default:
      return undefined;
  }
}

export default async function* kernelReporter(source: AsyncIterable<TestEvent>): AsyncGenerator<string, void> {
  for await (const event of source) {
    const record = toRecord(event);
    if (record !== undefined) yield encodeRecord(record);
  }
}
