import { IpvsError, invalidInput, syscallError } from './errors.ts';
import { CLONE_NEWNET, O_CLOEXEC, O_RDONLY } from './kernel-constants.ts';
import { checked, closeQuietly, lastErrno, libc } from './libc.ts';

// Sockets belong to the network namespace they were created in, for their whole life. So to
// talk to another namespace we only need to *create* the socket there: switch this thread into
// the namespace, create it, switch back. setns() acts on the calling thread only, and all our
// netlink calls are synchronous on the JS thread, so nothing else runs in between.

export const NETNS_RUN_DIR = '/run/netns';

/** Rejects names that could escape /run/netns (as `ip netns` does). */
export function validateNetnsName(name: string, command = 'netns'): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > 255) {
    throw invalidInput(command, `network namespace name must be 1-255 characters, got ${JSON.stringify(name)}`);
  }
  if (name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw invalidInput(command, `invalid network namespace name ${JSON.stringify(name)}`);
  }
}

function openNamespaceFile(path: string, what: string): number {
  const fd = libc().open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw syscallError('open', lastErrno(), `${what} ${path}`);
  return fd;
}

/**
 * Runs `fn` with the calling thread inside network namespace `/run/netns/<name>` and always
 * switches back, also when `fn` throws. With `name` undefined, just runs `fn`.
 * Needs CAP_SYS_ADMIN. Keep `fn` short and synchronous: it should create sockets, nothing more.
 */
export function withNetns<T>(name: string | undefined, fn: () => T): T {
  if (name === undefined) return fn();
  validateNetnsName(name);
  const original = openNamespaceFile('/proc/thread-self/ns/net', 'current network namespace');
  let target = -1;
  try {
    target = openNamespaceFile(`${NETNS_RUN_DIR}/${name}`, 'network namespace');
    checked('setns', () => libc().setns(target, CLONE_NEWNET), `entering ${name}`);
    try {
      return fn();
    } finally {
      restore(original, name);
    }
  } finally {
    closeQuietly(target);
    closeQuietly(original);
  }
}

function restore(original: number, name: string): void {
  if (libc().setns(original, CLONE_NEWNET) === 0) return;
  const errno = lastErrno();
  // The thread is now stuck in the wrong namespace: every later socket would silently talk to
  // it. There is no safe way on from here, so fail loudly instead of carrying on.
  const error = new IpvsError({
    kind: 'syscall',
    errno,
    command: 'setns',
    message: `could not return from network namespace ${name} to the original one; this process must restart`,
  });
  process.emitWarning(error.message, { code: 'LVSCARE_NETNS_RESTORE_FAILED' });
  throw error;
}
