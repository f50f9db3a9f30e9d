// The artifacts under test, built once per test run: every test file that needs them calls
// ensureDist()/ensureImage(); the first builds (`npm run dist`, `npm run image`), the others of the
// same run reuse what it built. A run is the node --test process that started the files (pid and
// start time), so a new `npm test` always tests a fresh build. A lock keeps concurrent files apart.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DistManifest } from '../../../release/dist.ts';
import type { ImageManifest } from '../../../release/image.ts';
import { DIST_DIR, DIST_MANIFEST_FILE, IMAGE_MANIFEST_FILE } from '../../../release/lib/layout.ts';
import { run } from '../../harness/command.ts';

const BUILD_ONCE = join(import.meta.dirname, 'build-once.ts');
const BUILD_TIMEOUT_MS = 15 * 60_000;

function testRunId(): string {
  const stat = readFileSync(`/proc/${process.ppid}/stat`, 'utf8');
  const startTime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  return `${process.ppid}-${startTime}`;
}

async function buildOnce(what: 'dist' | 'image'): Promise<void> {
  mkdirSync(DIST_DIR, { recursive: true });
  const result = await run(['flock', join(DIST_DIR, '.test-build.lock'), process.execPath, BUILD_ONCE, what, testRunId()], {
    timeoutMs: BUILD_TIMEOUT_MS,
    allowFailure: true,
  });
  if (result.code !== 0) throw new Error(`npm run ${what} failed (exit ${result.code}):\n${result.stderr.slice(-4000)}`);
}

export async function ensureDist(): Promise<DistManifest> {
  await buildOnce('dist');
  return JSON.parse(readFileSync(join(DIST_DIR, DIST_MANIFEST_FILE), 'utf8')) as DistManifest;
}

export async function ensureImage(): Promise<ImageManifest> {
  await ensureDist();
  await buildOnce('image');
  return JSON.parse(readFileSync(join(DIST_DIR, IMAGE_MANIFEST_FILE), 'utf8')) as ImageManifest;
}
