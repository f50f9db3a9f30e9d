// Last-resort cleanup for resources a test process owns outside itself (network namespaces, qemu):
// run when the process exits normally or is stopped with SIGINT/SIGTERM (node --test stops
// test files with SIGTERM on cancellation), so a failing or interrupted test leaves nothing behind.

const cleanups = new Set<() => void>();
let installed = false;

function runAll(): void {
  for (const cleanup of [...cleanups]) {
    try {
      cleanup();
    } catch {
      // Best effort: the process is going away.
    }
  }
  cleanups.clear();
}

/** Registers a synchronous cleanup; returns a function that unregisters it. */
export function onProcessExit(cleanup: () => void): () => void {
  if (!installed) {
    installed = true;
    process.once('exit', runAll);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const handler = (): void => {
        runAll();
        // Listening to a signal disables its default action; re-raise it once we are done.
        process.removeListener(signal, handler);
        process.kill(process.pid, signal);
      };
      process.on(signal, handler);
    }
  }
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}
