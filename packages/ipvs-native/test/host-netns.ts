// Throwaway network namespaces for host tests, made with iproute2 (an independent tool, so it
// also serves as the cross-check of what our rtnetlink client reads and writes).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].find((path) => existsSync(path));

/** Runs iproute2's `ip`; fails the test with an install hint when it is missing. */
export function ip(...args: string[]): string {
  if (IP === undefined) throw new Error('iproute2 is required for these tests: apt-get install iproute2');
  return execFileSync(IP, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `ip -j ...` parsed. */
export function ipJson<T>(...args: string[]): T {
  return JSON.parse(ip('-j', ...args) || '[]') as T;
}

export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('these tests need root (CAP_NET_ADMIN, CAP_SYS_ADMIN): run them as root');
}

let counter = 0;

/** Creates /run/netns/<unique name>; remove it with `deleteNetns`. */
export function createNetns(prefix = 'ipvsn'): string {
  requireRoot();
  const name = `${prefix}-${process.pid}-${counter++}`;
  ip('netns', 'add', name);
  return name;
}

export function deleteNetns(name: string): void {
  ip('netns', 'del', name);
}
