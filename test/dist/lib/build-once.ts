// Runs under `flock` (see artifacts.ts): builds the executables or the image unless this test run
// (the node --test process that started the test files) already did. Output goes to stderr.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { DIST_DIR, REPO_ROOT } from '../../../release/lib/layout.ts';

const [what, runId] = process.argv.slice(2);
if ((what !== 'dist' && what !== 'image') || runId === undefined) {
  process.stderr.write('usage: build-once.ts dist|image RUN_ID\n');
  process.exit(2);
}
const marker = join(DIST_DIR, `.built-by-test-run-${what}`);
let previous = '';
try {
  previous = readFileSync(marker, 'utf8');
} catch {
  // never built by a test run
}
if (previous !== runId) {
  const script = join(REPO_ROOT, 'release', `${what}.ts`);
  const result = spawnSync(process.execPath, [script], { stdio: ['ignore', 2, 2] });
  if (result.status !== 0) process.exit(result.status ?? 1);
  writeFileSync(marker, runId);
}
