// The built lvscare image, unpacked for runc/crun, handed from the host to the kernel suite.
//
// The image is built on the host (`npm run image` needs Debian's archive, which the VM cannot
// reach), by test/dist's ensureImage(): in an `npm test` run test/dist has built it already and
// this reuses that build. The host unpacks it (skopeo + umoci, seconds here, much longer under
// TCG) into a temporary directory that the VM sees through its 9p view of the host's /tmp, and
// passes the directory in LVSCARE_IMAGE_BUNDLE (LVSCARE_* variables travel into the VM). If that
// failed, LVSCARE_IMAGE_BUNDLE_ERROR says why, and the container test fails with it.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IMAGE_OCI_ARCHIVE, DIST_DIR } from '../../../release/lib/layout.ts';
import { IMAGE_REFERENCE } from '../../../release/lib/image-spec.ts';
import { ensureImage } from '../../dist/lib/artifacts.ts';
import { run } from '../../harness/command.ts';
import type { ImageConfig } from './pod-to-oci.ts';

export const IMAGE_BUNDLE_ENV = 'LVSCARE_IMAGE_BUNDLE';
export const IMAGE_BUNDLE_ERROR_ENV = 'LVSCARE_IMAGE_BUNDLE_ERROR';
/** The kernel test files that run the image; the host prepares the bundle only when one is in the plan. */
export const IMAGE_TEST_FILE_MARK = 'container';

export interface ImageBundle {
  /** The image's root filesystem (never written to: the containers run it read-only). */
  rootfs: string;
  image: ImageConfig;
  reference: string;
  digest: string;
}

async function tool(argv: readonly string[]): Promise<void> {
  const result = await run(argv, { allowFailure: true, timeoutMs: 600_000 });
  if (result.code !== 0) throw new Error(`${argv.join(' ')}: exit ${result.code}: ${result.stderr.trim()}`);
}

/**
 * Host side: builds the image once per test run (or reuses this run's build), unpacks it and sets
 * the environment for the kernel suite. Returns the cleanup; never throws (the error goes to the test).
 */
export async function prepareImageBundle(files: readonly string[]): Promise<() => void> {
  if (!files.some((file) => file.includes(IMAGE_TEST_FILE_MARK))) return () => undefined;
  const dir = mkdtempSync(path.join(os.tmpdir(), `lvscare-image-bundle-${process.pid}-`));
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    const manifest = await ensureImage();
    const tag = IMAGE_REFERENCE.slice(IMAGE_REFERENCE.lastIndexOf(':') + 1);
    const layout = `${path.join(dir, 'layout')}:${tag}`;
    // umoci unpacks from an OCI layout; skopeo turns the archive into one.
    await tool(['skopeo', 'copy', '--quiet', `oci-archive:${path.join(DIST_DIR, IMAGE_OCI_ARCHIVE)}`, `oci:${layout}`]);
    await tool(['umoci', 'unpack', '--image', layout, path.join(dir, 'bundle')]);
    rmSync(path.join(dir, 'layout'), { recursive: true, force: true });
    process.env[IMAGE_BUNDLE_ENV] = `${dir}|${manifest.reference}|${manifest.digest}`;
    delete process.env[IMAGE_BUNDLE_ERROR_ENV];
  } catch (error) {
    process.env[IMAGE_BUNDLE_ERROR_ENV] = `the lvscare image could not be built or unpacked on the host: ${error instanceof Error ? error.message : String(error)}`.replaceAll('\n', ' ');
    delete process.env[IMAGE_BUNDLE_ENV];
  }
  return cleanup;
}

/** Kernel-test side: the bundle the host prepared, or an error that says why there is none. */
export function imageBundle(): ImageBundle {
  const failure = process.env[IMAGE_BUNDLE_ERROR_ENV];
  if (failure !== undefined && failure !== '') throw new Error(failure);
  const value = process.env[IMAGE_BUNDLE_ENV];
  if (value === undefined || value === '') {
    throw new Error(`${IMAGE_BUNDLE_ENV} is not set: run this file through test/kernel.test.ts (it builds and unpacks the image on the host first)`);
  }
  const [dir = '', reference = '', digest = ''] = value.split('|');
  const bundle = path.join(dir, 'bundle');
  const configFile = path.join(bundle, 'config.json');
  if (!existsSync(configFile)) throw new Error(`${IMAGE_BUNDLE_ENV}: no unpacked image at ${bundle}`);
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as { process: { env: string[]; cwd: string } };
  return { rootfs: path.join(bundle, 'rootfs'), image: { env: config.process.env.filter((entry) => !entry.startsWith('TERM=')), cwd: config.process.cwd }, reference, digest };
}
