// The shipping figures: how long `npm run dist` and `npm run image` take, how big the executables
// and the image are, whether a second image build gives the same digest, and start-up to --help
// from the sources vs the executable (with and without V8's code cache) vs a bare `node -e 0`,
// measured side by side: every round runs each variant once, in a rotating order, and the
// figures are medians over the rounds.
//
//   npx node bench/dist-bench.ts [--rounds N] [--skip-build]     (root: the image build needs it)
import { spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';
import type { DistManifest } from '../release/dist.ts';
import type { ImageManifest } from '../release/image.ts';
import { DIST_DIR, DIST_MANIFEST_FILE, executablePath, IMAGE_MANIFEST_FILE, IMAGE_OCI_ARCHIVE, IMAGE_DOCKER_ARCHIVE, REPO_ROOT } from '../release/lib/layout.ts';
import { clockTicksPerSecond } from './lib/proc-usage.ts';
import { median } from './lib/stats.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '20' }, 'skip-build': { type: 'boolean', default: false } }, strict: true });
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 3) {
  process.stderr.write('usage: dist-bench.ts [--rounds N>=3] [--skip-build]\n');
  process.exit(2);
}

const say = (line: string): void => void process.stdout.write(`${line}\n`);
const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;

/** Runs `argv` to completion; returns wall seconds. Throws when it fails. */
function timedRun(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): number {
  const start = performance.now();
  const result = spawnSync(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const seconds = (performance.now() - start) / 1000;
  if (result.status !== 0) throw new Error(`${argv.join(' ')}: exit ${result.status}: ${result.stderr}`);
  return seconds;
}

/** utime + stime of this process's waited-for children so far, in seconds (/proc/self/stat cutime, cstime). */
function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / clockTicksPerSecond();
}

async function gzipBytes(file: string): Promise<number> {
  let bytes = 0;
  await pipeline(createReadStream(file), createGzip({ level: 6 }), async function* (source) {
    for await (const chunk of source) bytes += (chunk as Buffer).length;
  });
  return bytes;
}

const record: Record<string, unknown> = { bench: 'dist', rounds, cpu: /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1], cores: (await import('node:os')).cpus().length };

// 1. Build times (fresh builds, as CI runs them).
if (!values['skip-build']) {
  const dist = timedRun([process.execPath, path.join(REPO_ROOT, 'release', 'dist.ts')]);
  const image = timedRun([process.execPath, path.join(REPO_ROOT, 'release', 'image.ts')]);
  record['buildSeconds'] = { dist, image };
  say(`npm run dist: ${dist.toFixed(1)} s (4 executables); npm run image: ${image.toFixed(1)} s`);
}
const dist = JSON.parse(readFileSync(path.join(DIST_DIR, DIST_MANIFEST_FILE), 'utf8')) as DistManifest;
const image = JSON.parse(readFileSync(path.join(DIST_DIR, IMAGE_MANIFEST_FILE), 'utf8')) as ImageManifest;
record['distSteps'] = dist.timings;
say(`  dist steps (s): ${Object.entries(dist.timings).map(([step, s]) => `${step} ${s}`).join(', ')}`);

// 2. Sizes.
const sizes: Record<string, { bytes: number; gzipBytes: number }> = {};
for (const executable of dist.executables) {
  const file = path.join(DIST_DIR, executable.file);
  sizes[executable.file] = { bytes: statSync(file).size, gzipBytes: await gzipBytes(file) };
  say(`${executable.file}: ${mib(sizes[executable.file]!.bytes)}, ${mib(sizes[executable.file]!.gzipBytes)} gzipped`);
}
record['executables'] = sizes;

// 3. The image, and a second build from the same executable.
const second = spawnSync(process.execPath, [path.join(REPO_ROOT, 'release', 'image.ts')], { encoding: 'utf8' });
if (second.status !== 0) throw new Error(`second npm run image: ${second.stderr}`);
const secondImage = JSON.parse(readFileSync(path.join(DIST_DIR, IMAGE_MANIFEST_FILE), 'utf8')) as ImageManifest;
record['image'] = {
  digest: image.digest,
  secondDigest: secondImage.digest,
  compressedLayerBytes: image.compressedBytes,
  uncompressedLayerBytes: image.uncompressedBytes,
  ociArchiveBytes: statSync(path.join(DIST_DIR, IMAGE_OCI_ARCHIVE)).size,
  dockerArchiveBytes: statSync(path.join(DIST_DIR, IMAGE_DOCKER_ARCHIVE)).size,
  debianPackages: image.debianPackages.length,
};
say(`image ${image.reference}: layer ${mib(image.compressedBytes)} compressed, ${mib(image.uncompressedBytes)} unpacked; ${image.debianPackages.length} Debian packages`);
say(`  digest ${image.digest}; second build ${secondImage.digest === image.digest ? 'the same' : `DIFFERENT: ${secondImage.digest}`}`);

// 4. Start-up to --help, side by side.
const codeCacheDir = mkdtempSync(path.join(tmpdir(), 'lvscare-dist-bench-'));
try {
  const cached = spawnSync(process.execPath, [path.join(REPO_ROOT, 'release', 'dist.ts'), '--arch', 'x64', '--code-cache', '--out', codeCacheDir], { encoding: 'utf8' });
  if (cached.status !== 0) throw new Error(`code-cache build: ${cached.stderr}`);
  const node = process.execPath;
  const variants: Record<string, string[]> = {
    'node -e 0': [node, '-e', '0'],
    'lvscare sources': [node, path.join(REPO_ROOT, 'packages', 'lvscare', 'bin', 'lvscare'), '--help'],
    'lvscare executable': [executablePath('lvscare', 'x64'), '--help'],
    'lvscare executable, code cache': [executablePath('lvscare', 'x64', codeCacheDir), '--help'],
    'seal sources': [node, path.join(REPO_ROOT, 'packages', 'installer', 'bin', 'seal.js'), '--help'],
    'seal executable': [executablePath('seal', 'x64'), '--help'],
  };
  const names = Object.keys(variants);
  const wall: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  const cpu: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  for (const name of names) timedRun(variants[name]!); // warm the page cache
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(round + i) % names.length]!;
      const before = childrenCpuSeconds();
      wall[name]!.push(timedRun(variants[name]!));
      cpu[name]!.push(childrenCpuSeconds() - before);
    }
  }
  const startup: Record<string, { wallMs: number; cpuMs: number }> = {};
  for (const name of names) {
    startup[name] = { wallMs: median(wall[name]!) * 1000, cpuMs: median(cpu[name]!) * 1000 };
    say(`--help ${name.padEnd(31)} wall ${startup[name].wallMs.toFixed(0).padStart(5)} ms, cpu ${startup[name].cpuMs.toFixed(0).padStart(5)} ms (medians of ${rounds})`);
  }
  const ratio = (a: string, b: string): number => median(wall[a]!.map((value, i) => value / wall[b]![i]!));
  const ratios = {
    executableVsSources: ratio('lvscare executable', 'lvscare sources'),
    codeCacheVsNone: ratio('lvscare executable, code cache', 'lvscare executable'),
    sealExecutableVsSources: ratio('seal executable', 'seal sources'),
  };
  say(`  wall ratios (median of per-round ratios): lvscare executable/sources ${ratios.executableVsSources.toFixed(2)}, code cache/none ${ratios.codeCacheVsNone.toFixed(2)}, seal executable/sources ${ratios.sealExecutableVsSources.toFixed(2)}`);
  record['startup'] = startup;
  record['ratios'] = ratios;
} finally {
  rmSync(codeCacheDir, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify(record)}\n`);
