// The single-file executables (`npm run dist`) as a user runs them: copied out of the checkout,
// started with an empty environment and no Node on PATH. The x64 ones run natively; the arm64 ones
// under Debian's qemu-user with an arm64 sysroot (release/lib/foreign-arch.ts). Each result is
// compared with the same command run from the TypeScript sources.
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { DEFAULT_LVSCARE_IMAGE } from '@lvscare/contracts/names';
import type { VersionInfo } from '@lvscare/lvscare/build-info';
import type { DistManifest } from '../../release/dist.ts';
import { commandFor } from '../../release/lib/foreign-arch.ts';
import { type Arch, executableName, executablePath, type Program, REPO_ROOT } from '../../release/lib/layout.ts';
import { run, type RunResult } from '../harness/command.ts';
import { ensureDist } from './lib/artifacts.ts';

/** What the executables get: no HOME, no Node, only the directories modprobe is in. */
const BARE_PATH = '/usr/sbin:/sbin';
const SOURCES: Record<Program, string> = {
  lvscare: join(REPO_ROOT, 'packages', 'lvscare', 'bin', 'lvscare'),
  seal: join(REPO_ROOT, 'packages', 'installer', 'bin', 'seal.js'),
};
const KOFFI_X64 = join(REPO_ROOT, 'node_modules', '@koromix', 'koffi-linux-x64', 'linux_x64', 'koffi.node');
const HOST_HAS_IPVS = existsSync('/proc/net/ip_vs');

let dist: DistManifest;
let scratch: string;

before(async () => {
  dist = await ensureDist();
  scratch = mkdtempSync(join(tmpdir(), `lvscare-dist-test-${process.pid}-`));
  for (const arch of ['x64', 'arm64'] as const) {
    mkdirSync(join(scratch, arch));
    for (const program of ['lvscare', 'seal'] as const) copyFileSync(executablePath(program, arch), join(scratch, arch, executableName(program, arch)));
  }
});
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs a copied executable outside the checkout with `env -i PATH=/usr/sbin:/sbin` (+ env). */
function exe(program: Program, arch: Arch, args: readonly string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<RunResult> {
  const file = join(scratch, arch, executableName(program, arch));
  return run(commandFor(arch, [file, ...args]), { env: { PATH: BARE_PATH, ...options.env }, cwd: options.cwd ?? scratch, allowFailure: true, timeoutMs: 300_000 });
}

/** The same command from the TypeScript sources on the repository's Node. */
function sources(program: Program, args: readonly string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<RunResult> {
  return run([process.execPath, SOURCES[program], ...args], { env: { ...process.env, ...options.env } as Record<string, string>, cwd: options.cwd ?? REPO_ROOT, allowFailure: true, timeoutMs: 300_000 });
}

function ok(result: RunResult, what: string): RunResult {
  assert.equal(result.code, 0, `${what} failed (exit ${result.code}): ${result.stderr}`);
  return result;
}

/** Relative path -> contents of every file below `dir`. */
function readTree(dir: string): Map<string, { mode: number; text: string }> {
  const files = new Map<string, { mode: number; text: string }>();
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.set(relative(dir, path), { mode: statSync(path).mode & 0o777, text: readFileSync(path, 'utf8') });
    }
  };
  walk(dir);
  return files;
}

/** Renders a 3+2 cluster with `render` in a fresh directory of its own; returns the output tree and stdout. */
async function renderWith(render: (args: string[], cwd: string) => Promise<RunResult>, label: string, pkiDir: string, extra: string[]): Promise<{ stdout: string; tree: Map<string, { mode: number; text: string }> }> {
  const cwd = join(scratch, `render-${label}`);
  mkdirSync(cwd);
  const args = ['render', '--masters', '10.0.0.1,10.0.0.2,10.0.0.3', '--nodes', '10.0.0.11,10.0.0.12', '--pki-dir', pkiDir, ...extra, '-o', 'out'];
  const result = ok(await render(args, cwd), `seal render (${label})`);
  return { stdout: result.stdout, tree: readTree(join(cwd, 'out')) };
}

/**
 * Same files with the same modes; plan.json, the kubeadm configurations and the lvscare pods
 * identical once the bootstrap token (random on every render) is masked. Certificates, keys and
 * kubeconfigs hold fresh keys and are compared by name and mode only.
 */
function assertSameRender(actual: Awaited<ReturnType<typeof renderWith>>, expected: Awaited<ReturnType<typeof renderWith>>): void {
  assert.equal(actual.stdout, expected.stdout);
  assert.deepEqual([...actual.tree.keys()].sort(), [...expected.tree.keys()].sort());
  const maskToken = (text: string): string => text.replace(/[a-z0-9]{6}\.[a-z0-9]{16}/g, '<bootstrap token>');
  let compared = 0;
  for (const [path, file] of expected.tree) {
    const other = actual.tree.get(path)!;
    assert.equal(other.mode, file.mode, `${path}: mode`);
    if (path === 'plan.json' || path.includes('/kubeadm/') || path.endsWith('kube-sealos-lvscare.yaml')) {
      assert.equal(maskToken(other.text), maskToken(file.text), path);
      compared += 1;
    }
  }
  assert.equal(compared, 1 + 5 + 2, 'plan.json, five kubeadm configurations and two lvscare pods compared');
}

/** A directory on a fresh noexec tmpfs for `argv`, in a private mount namespace. */
function withNoexecDir(dir: string, argv: readonly string[]): string[] {
  return ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs -o noexec,mode=0700 tmpfs "$1" && shift && exec "$@"', 'sh', dir, ...argv];
}

describe('the executables run without Node and outside the checkout', () => {
  it('has no node on the PATH it gives them', async () => {
    const found = await run(['/bin/sh', '-c', 'command -v node'], { env: { PATH: BARE_PATH }, allowFailure: true });
    assert.notEqual(found.code, 0, `node is on ${BARE_PATH}: ${found.stdout}`);
  });

  for (const arch of ['x64', 'arm64'] as const) {
    describe(`linux-${arch}${arch === 'x64' ? '' : ' (qemu-user)'}`, () => {
      it('prints the usage for --help', async () => {
        assert.match(ok(await exe('lvscare', arch, ['--help']), 'lvscare --help').stdout, /^Usage: lvscare \[options\] \[command\]/);
        assert.match(ok(await exe('seal', arch, ['--help']), 'seal --help').stdout, /^Usage: seal \[options\] \[command\]/);
      });

      it('prints the version, commit and build date it was built with', async () => {
        for (const program of ['lvscare', 'seal'] as const) {
          const info = JSON.parse(ok(await exe(program, arch, ['version']), `${program} version`).stdout) as VersionInfo;
          const built = dist.executables.find((e) => e.program === program && e.arch === arch);
          assert.ok(built, `dist.json lists ${program} ${arch}`);
          assert.deepEqual(info, {
            gitVersion: `v${built.version}`,
            gitCommit: dist.commit,
            buildDate: dist.buildDate,
            nodeVersion: `v${dist.nodeVersion}`,
            platform: `linux/${arch}`,
          });
          assert.match(info.gitCommit, /^[0-9a-f]{40}(-dirty)?$/);
          assert.equal(ok(await exe(program, arch, ['version', '--short']), `${program} version --short`).stdout, `v${built.version}\n`);
          const fromSources = JSON.parse(ok(await sources(program, ['version']), `${program} version from sources`).stdout) as VersionInfo;
          assert.equal(fromSources.gitCommit, 'unknown (running from source)');
        }
      });

      it('refuses a bad flag with exit status 2 and one line', async () => {
        const lvscare = await exe('lvscare', arch, ['care', '--bogus']);
        assert.equal(lvscare.code, 2, lvscare.stderr);
        assert.equal(lvscare.stderr, "lvscare: unknown option '--bogus'\n");
        const seal = await exe('seal', arch, ['render', '--masters', '10.0.0.1', '-o', 'never-written', '--bogus']);
        assert.equal(seal.code, 2, seal.stderr);
        assert.equal(seal.stderr, "seal: error: unknown option '--bogus'\n");
        assert.equal(existsSync(join(scratch, 'never-written')), false, 'nothing written');
      });

      it('seal run takes the lvscare executable for a worker from beside itself, under any name', async () => {
        // The bundle has no source tree to find dist/ from: the single file must look where it sits.
        const dir = join(scratch, `renamed-${arch}`);
        mkdirSync(dir);
        copyFileSync(join(scratch, arch, executableName('seal', arch)), join(dir, 'seal'));
        chmodSync(join(dir, 'seal'), 0o755);
        const lvscare = join(dir, executableName('lvscare', 'x64'));
        writeFileSync(lvscare, 'stands in for the worker executable\n');
        const home = join(dir, 'home');
        mkdirSync(home);
        const file = join(dir, 'seal');
        const result = ok(
          await run(commandFor(arch, [file, 'run', '--masters', '10.0.0.1', '--nodes', '10.0.0.2', '--dry-run']), { env: { PATH: BARE_PATH, HOME: home }, cwd: dir, allowFailure: true, timeoutMs: 300_000 }),
          'seal run --dry-run',
        );
        assert.ok(result.stdout.includes(`upload ${lvscare} to /usr/local/bin/lvscare`), result.stdout);
      });

      it('prints the static pod the sources print, naming the image npm run image builds', async () => {
        const hosts = join(scratch, `hosts-${arch}`);
        writeFileSync(hosts, '127.0.0.1 localhost\n192.168.0.10 lvscare.node.ip\n');
        const args = ['static-pod', '--masters', '192.168.0.2:6443,192.168.0.3:6443,192.168.0.4:6443', '--print'];
        const manifest = ok(await exe('lvscare', arch, args, { env: { LVSCARE_HOSTS_FILE: hosts } }), 'static-pod').stdout;
        assert.equal(manifest, ok(await sources('lvscare', args, { env: { LVSCARE_HOSTS_FILE: hosts } }), 'static-pod from sources').stdout);
        const pod = parse(manifest) as { spec: { containers: Array<{ image: string }> } };
        assert.equal(pod.spec.containers[0]?.image, DEFAULT_LVSCARE_IMAGE);
      });

      it('renders a 3-master, 2-worker cluster as the sources do', async () => {
        // ECDSA keys: RSA generation under qemu-user takes minutes. The CAs are made once and
        // reused by both renders, so the CA pin and everything that names it agree.
        const pkiDir = join(scratch, `pki-${arch}`);
        mkdirSync(pkiDir);
        const extra = ['--key-algorithm', 'ecdsa-p256'];
        await renderWith((args, cwd) => sources('seal', args, { cwd }), `${arch}-ca`, pkiDir, extra);
        const expected = await renderWith((args, cwd) => sources('seal', args, { cwd }), `${arch}-sources`, pkiDir, extra);
        const actual = await renderWith((args, cwd) => exe('seal', arch, args, { cwd }), `${arch}-executable`, pkiDir, extra);
        assertSameRender(actual, expected);
      });

      it('loads koffi from its embedded copy and reaches the kernel through it', async () => {
        const tmp = mkdtempSync(join(scratch, `tmp-${arch}-`));
        const result = await exe('lvscare', arch, ['ipvs', 'list'], { env: { LVSCARE_TMPDIR: tmp } });
        assert.doesNotMatch(result.stderr, /koffi|native module/i);
        if (arch !== 'x64') {
          // qemu-user emulates no generic netlink socket: the socket() call itself, made through
          // koffi, is what fails.
          assert.equal(result.code, 1);
          assert.match(result.stderr, /^lvscare: open IPVS: socket failed: protocol not supported \[EPROTONOSUPPORT\] \(AF_NETLINK protocol 16\)/);
        } else if (HOST_HAS_IPVS) {
          assert.equal(result.code, 0, result.stderr);
          assert.match(result.stdout, /^IP Virtual Server version/);
        } else {
          assert.equal(result.code, 1);
          assert.match(result.stderr, /^lvscare: open IPVS: IPVS is not available in this kernel/);
        }
        assert.deepEqual(readdirSync(tmp), [], 'the private directory koffi.node was unpacked into is gone');
      });

      it('names LVSCARE_TMPDIR when it cannot unpack koffi there', async () => {
        const missing = join(scratch, 'no-such-directory');
        const result = await exe('lvscare', arch, ['ipvs', 'list'], { env: { LVSCARE_TMPDIR: missing } });
        assert.equal(result.code, 1);
        assert.match(result.stderr, new RegExp(`cannot unpack koffi's native module: cannot create a directory in ${missing} \\(LVSCARE_TMPDIR\\): ENOENT`));
        assert.match(result.stderr, /Set LVSCARE_TMPDIR to a writable directory on a filesystem that allows exec/);
      });
    });
  }

  // Under qemu-user the guest's mmap of a noexec file succeeds (qemu reads it, the host CPU never
  // executes it), so noexec is only observable natively.
  describe('linux-x64 on a noexec temporary directory', () => {
    it('says which directory is mounted noexec', async () => {
      const dir = mkdtempSync(join(scratch, 'noexec-'));
      const file = join(scratch, 'x64', executableName('lvscare', 'x64'));
      const result = await run(withNoexecDir(dir, ['env', '-i', `PATH=${BARE_PATH}`, `LVSCARE_TMPDIR=${dir}`, file, 'ipvs', 'list']), { allowFailure: true });
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, new RegExp(`cannot load koffi's native module from ${dir} \\(LVSCARE_TMPDIR\\): ${dir} is mounted noexec\\. Set LVSCARE_TMPDIR`));
    });

    it('uses a koffi.node next to the executable instead of unpacking one', async () => {
      const dir = mkdtempSync(join(scratch, 'beside-'));
      const noexec = mkdtempSync(join(scratch, 'noexec-'));
      const file = join(dir, executableName('lvscare', 'x64'));
      copyFileSync(join(scratch, 'x64', executableName('lvscare', 'x64')), file);
      copyFileSync(KOFFI_X64, join(dir, 'koffi.node'));
      const result = await run(withNoexecDir(noexec, ['env', '-i', `PATH=${BARE_PATH}`, `LVSCARE_TMPDIR=${noexec}`, file, 'ipvs', 'list']), { allowFailure: true });
      assert.doesNotMatch(result.stderr, /koffi|native module/i);
      if (HOST_HAS_IPVS) assert.equal(result.code, 0, result.stderr);
      else assert.match(result.stderr, /^lvscare: open IPVS: IPVS is not available in this kernel/);
    });
  });
});
