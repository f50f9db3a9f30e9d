// Whole lines of a child's stdout and stderr, as they arrive. The harness's BackgroundProcess keeps
// only a bounded tail of the output for error messages; a benchmark that runs for an hour needs
// every line, parsed once, not a growing string re-read on each poll.
import type { ChildProcess } from 'node:child_process';

export type LineSource = 'stdout' | 'stderr';

export function onLines(child: ChildProcess, listener: (line: string, source: LineSource) => void): void {
  for (const source of ['stdout', 'stderr'] as const) {
    const stream = child[source];
    if (stream === null) continue;
    let partial = '';
    stream.on('data', (chunk: string | Buffer) => {
      partial += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
      let newline = partial.indexOf('\n');
      while (newline >= 0) {
        listener(partial.slice(0, newline), source);
        partial = partial.slice(newline + 1);
        newline = partial.indexOf('\n');
      }
    });
  }
}
