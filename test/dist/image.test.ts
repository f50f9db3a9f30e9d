// The lvscare image (`npm run image`), checked with tools that are not ours: skopeo reads the
// archives, umoci unpacks the OCI one into a runtime bundle, GNU tar lists the layer, and the
// unpacked root filesystem runs lvscare and the tools it calls (chroot). A second build from the
// same executable must give the same digest.
import assert from 'node:assert/strict';
import { copyFileSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { VersionInfo } from '@lvscare/lvscare/build-info';
import { buildImage, type ImageManifest } from '../../release/image.ts';
import { DIST_DIR, executableName, executablePath, IMAGE_DOCKER_ARCHIVE, IMAGE_OCI_ARCHIVE, REPO_ROOT } from '../../release/lib/layout.ts';
import { IMAGE_CMD, IMAGE_ENTRYPOINT, IMAGE_PATH, IMAGE_REFERENCE, IMAGE_STOP_SIGNAL } from '../../release/lib/image-spec.ts';
import { run } from '../harness/command.ts';
import { ensureImage } from './lib/artifacts.ts';

const OCI = join(DIST_DIR, IMAGE_OCI_ARCHIVE);
const DOCKER = join(DIST_DIR, IMAGE_DOCKER_ARCHIVE);
const TAG = IMAGE_REFERENCE.slice(IMAGE_REFERENCE.lastIndexOf(':') + 1);

let image: ImageManifest;
let scratch: string;
let bundle: string;

async function tool(argv: readonly string[]): Promise<string> {
  const result = await run(argv, { allowFailure: true, timeoutMs: 300_000 });
  assert.equal(result.code, 0, `${argv.join(' ')}: exit ${result.code}: ${result.stderr}`);
  return result.stdout;
}

/** A program inside the unpacked root filesystem, with the image's PATH and nothing else. */
function inRootfs(argv: readonly string[]) {
  return run(['chroot', join(bundle, 'rootfs'), ...argv], { env: { PATH: IMAGE_PATH }, allowFailure: true, timeoutMs: 120_000 });
}

before(async () => {
  image = await ensureImage();
  scratch = mkdtempSync(join(tmpdir(), `lvscare-image-test-${process.pid}-`));
  // umoci unpacks from an OCI layout; skopeo turns the archive into one.
  await tool(['skopeo', 'copy', '--quiet', `oci-archive:${OCI}`, `oci:${join(scratch, 'layout')}:${TAG}`]);
  bundle = join(scratch, 'bundle');
  await tool(['umoci', 'unpack', '--image', `${join(scratch, 'layout')}:${TAG}`, bundle]);
});
after(() => rmSync(scratch, { recursive: true, force: true }));

describe('npm run image', () => {
  it('writes an OCI archive whose configuration runs /usr/bin/lvscare on linux/amd64', async () => {
    const inspected = JSON.parse(await tool(['skopeo', 'inspect', `oci-archive:${OCI}`])) as { Digest: string; Architecture: string; Os: string; Labels: Record<string, string>; Layers: string[] };
    assert.equal(inspected.Digest, image.digest);
    assert.equal(inspected.Architecture, 'amd64');
    assert.equal(inspected.Os, 'linux');
    assert.equal(inspected.Layers.length, 1);
    const config = JSON.parse(await tool(['skopeo', 'inspect', '--config', `oci-archive:${OCI}`])) as {
      created: string;
      config: { Entrypoint: string[]; Cmd: string[]; Env: string[]; StopSignal: string; Labels: Record<string, string> };
    };
    assert.deepEqual(config.config.Entrypoint, IMAGE_ENTRYPOINT);
    assert.deepEqual(config.config.Cmd, IMAGE_CMD);
    assert.deepEqual(config.config.Env, [`PATH=${IMAGE_PATH}`]);
    assert.equal(config.config.StopSignal, IMAGE_STOP_SIGNAL);
    assert.equal(config.created, image.executable.buildDate);

    const executable = JSON.parse((await run([executablePath('lvscare', 'x64'), 'version'])).stdout) as VersionInfo;
    const labels = config.config.Labels;
    assert.equal(labels['org.opencontainers.image.version'], executable.gitVersion.replace(/^v/, ''));
    assert.equal(labels['org.opencontainers.image.revision'], executable.gitCommit);
    assert.equal(labels['org.opencontainers.image.created'], executable.buildDate);
    assert.ok((labels['org.opencontainers.image.source'] ?? '') !== '', 'a source label');
    assert.deepEqual(labels, image.labels);
    assert.equal(IMAGE_REFERENCE, `localhost/lvscare:${labels['org.opencontainers.image.version']}`);
  });

  it('writes the same image as a docker archive named for ctr import', async () => {
    const docker = JSON.parse(await tool(['skopeo', 'inspect', '--raw', `docker-archive:${DOCKER}`])) as { config: { digest: string } };
    assert.equal(docker.config.digest, image.configDigest, 'the same image configuration (image ID)');
    const manifest = JSON.parse(await tool(['tar', '-xOf', DOCKER, 'manifest.json'])) as Array<{ RepoTags: string[] }>;
    assert.deepEqual(manifest.map((entry) => entry.RepoTags), [[IMAGE_REFERENCE]]);
  });

  it('holds the executable and Debian files only, all owned by root', async () => {
    const layer = join(scratch, 'layout', 'blobs', 'sha256', (JSON.parse(readFileSync(join(scratch, 'layout', 'blobs', 'sha256', image.digest.slice(7)), 'utf8')) as { layers: Array<{ digest: string }> }).layers[0]!.digest.slice(7));
    const listing = (await tool(['tar', '-tvzf', layer, '--numeric-owner'])).trim().split('\n');
    const entry = (path: string) => listing.find((line) => line.endsWith(` ${path}`) || line.includes(` ${path} -> `));
    assert.match(entry('usr/bin/lvscare') ?? '', /^-rwxr-xr-x 0\/0 /);
    assert.match(entry('usr/sbin/iptables') ?? '', /^l.* usr\/sbin\/iptables -> iptables-nft$/);
    assert.ok(entry('usr/sbin/nft'), 'nft');
    assert.ok(entry('sbin/modprobe'), 'modprobe');
    assert.match(entry('tmp/') ?? '', /^drwxrwxrwt 0\/0 /);
    assert.deepEqual(listing.filter((line) => !/^\S+ 0\/0 /.test(line)), [], 'every file owned by 0:0');
    assert.deepEqual(listing.filter((line) => /^[cb]/.test(line) || / (bin\/sh|usr\/bin\/apt|usr\/bin\/dpkg)$/.test(line)), [], 'no device nodes, no shell, no package manager');
    const mtimes = new Set(listing.map((line) => line.split(/\s+/).slice(3, 5).join(' ')));
    assert.equal(mtimes.size, 1, `one file time for every entry (the build date): ${[...mtimes].join(', ')}`);
  });

  it('lists its Debian packages in a dpkg status file', () => {
    const status = readFileSync(join(bundle, 'rootfs', 'var', 'lib', 'dpkg', 'status'), 'utf8');
    for (const name of ['libc6', 'libstdc++6', 'kmod', 'nftables', 'iptables']) {
      assert.match(status, new RegExp(`^Package: ${name.replace('+', '\\+')}\\nStatus: install ok installed\\n`, 'm'), name);
    }
    assert.deepEqual(image.debianPackages.map((p) => p.name), [...status.matchAll(/^Package: (.+)$/gm)].map((m) => m[1]));
  });

  it('unpacks into a runtime bundle that starts lvscare --help', () => {
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { process: { args: string[]; env: string[] } };
    assert.deepEqual(spec.process.args, [...IMAGE_ENTRYPOINT, ...IMAGE_CMD]);
    assert.ok(spec.process.env.includes(`PATH=${IMAGE_PATH}`));
  });

  it('runs lvscare inside its root filesystem, koffi and all', async () => {
    const version = await inRootfs(['/usr/bin/lvscare', 'version']);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout, (await run([executablePath('lvscare', 'x64'), 'version'])).stdout);
    const list = await inRootfs(['/usr/bin/lvscare', 'ipvs', 'list']);
    assert.doesNotMatch(list.stderr, /koffi|native module/i);
    if (statSync('/proc/net/ip_vs', { throwIfNoEntry: false })) assert.equal(list.code, 0, list.stderr);
    else assert.match(list.stderr, /^lvscare: open IPVS: IPVS is not available in this kernel/);
  });

  it('has the tools the daemon calls, with their libraries', async () => {
    for (const [argv, output] of [
      [['nft', '--version'], /^nftables v1\./],
      [['iptables', '--version'], /^iptables v1\.\S+ \(nf_tables\)/],
      [['ip6tables-restore', '--version'], /^ip6tables-restore v1\.\S+ \(nf_tables\)/],
      [['iptables-legacy', '--version'], /^iptables v1\.\S+ \(legacy\)/],
      [['modprobe', '--version'], /^kmod version \d+/],
    ] as const) {
      // Found by name through the image's PATH, as the daemon finds them.
      const result = await inRootfs([await resolveInRootfs(argv[0]), ...argv.slice(1)]);
      assert.equal(result.code, 0, `${argv.join(' ')}: ${result.stderr}`);
      assert.match(result.stdout, output);
    }
  });

  it('gives the same digest when built again from the same executable', async () => {
    const again = mkdtempSync(join(scratch, 'again-'));
    copyFileSync(executablePath('lvscare', 'x64'), join(again, executableName('lvscare', 'x64')));
    const second = await buildImage({ distDir: again, source: image.labels['org.opencontainers.image.source']! }, () => undefined);
    assert.equal(second.digest, image.digest);
    assert.equal(second.configDigest, image.configDigest);
  });

  it('is what images/lvscare/Containerfile describes', () => {
    const containerfile = readFileSync(join(REPO_ROOT, 'images', 'lvscare', 'Containerfile'), 'utf8');
    const final = containerfile.slice(containerfile.lastIndexOf('\nFROM '));
    assert.match(final, /^\nFROM scratch\n/);
    assert.ok(final.includes(`\nENTRYPOINT ${JSON.stringify(IMAGE_ENTRYPOINT)}\n`), 'ENTRYPOINT');
    assert.ok(final.includes(`\nCMD ${JSON.stringify(IMAGE_CMD)}\n`), 'CMD');
    assert.ok(final.includes(`\nENV PATH=${IMAGE_PATH}\n`), 'ENV PATH');
    assert.ok(final.includes(`\nSTOPSIGNAL ${IMAGE_STOP_SIGNAL}\n`), 'STOPSIGNAL');
    assert.match(containerfile, /\nRUN sh \/usr\/local\/bin\/rootfs\.sh \/rootfs amd64\n/, 'the root filesystem from the same script');
    assert.match(containerfile, /\nCOPY dist\/lvscare-linux-x64 \/rootfs\/usr\/bin\/lvscare\n/);
  });
});

/** The first directory of the image's PATH holding `name` (what execvp in the daemon finds). */
async function resolveInRootfs(name: string): Promise<string> {
  for (const dir of IMAGE_PATH.split(':')) {
    const candidate = `${dir}/${name}`;
    if (lstatSync(join(bundle, "rootfs", candidate), { throwIfNoEntry: false })) return candidate;
  }
  assert.fail(`${name} is on none of ${IMAGE_PATH} in the image`);
}

