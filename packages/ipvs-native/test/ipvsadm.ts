// ipvsadm as an independent witness of the kernel's IPVS table: its listing, and ours rendered
// in the same normalized form, so the two can be compared in both directions.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { IpvsClient, Service } from '../src/index.ts';

const IPVSADM = ['/usr/sbin/ipvsadm', '/sbin/ipvsadm'].find((path) => existsSync(path));

/** Runs ipvsadm (in the current network namespace); fails the test with an install hint if it is missing. */
export function ipvsadm(...args: string[]): string {
  if (IPVSADM === undefined) throw new Error('ipvsadm is required for the kernel suite: apt-get install ipvsadm');
  return execFileSync(IPVSADM, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * One block per service: its line, then its destinations' lines, as
 *   "TCP 10.0.0.1:80 rr persistent 60 mask 255.255.255.0"
 *   "-> 10.1.1.1:80 Masq 2 100 50"      (forward, weight, upper, lower threshold)
 * Blocks and destinations are sorted so both sides compare regardless of dump order.
 */
export type Table = string[][];

function normalize(line: string): string {
  return line.trim().replace(/\s+/g, ' ');
}

function sortTable(blocks: string[][]): Table {
  return blocks.map(([head, ...dests]) => [head ?? '', ...dests.sort()]).sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''));
}

/** The table as `ipvsadm -Ln --exact` (and `--thresholds`) shows it. */
export function ipvsadmTable(): Table {
  const body = (text: string): string[] => text.split('\n').slice(3).filter((line) => line.trim() !== '');
  const main = body(ipvsadm('-L', '-n', '--exact'));
  const thresholds = body(ipvsadm('-L', '-n', '--exact', '--thresholds'));
  if (main.length !== thresholds.length) throw new Error('ipvsadm listings changed between two calls');
  const blocks: string[][] = [];
  main.forEach((line, i) => {
    if (!line.startsWith('  ->')) {
      blocks.push([normalize(line)]);
      return;
    }
    const [, address, forward, weight] = normalize(line).split(' ');
    const [, , upper, lower] = normalize(thresholds[i] ?? '').split(' ');
    blocks[blocks.length - 1]?.push(`-> ${address} ${forward} ${weight} ${upper} ${lower}`);
  });
  return sortTable(blocks);
}

const forwardNames = { masq: 'Masq', local: 'Local', tunnel: 'Tunnel', route: 'Route' } as const;

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** ipvsadm's service line for a service we decoded (it prints mask only when not the default). */
export function serviceLine(service: Service): string {
  let line: string;
  if ('fwmark' in service) line = `FWM ${service.fwmark}${service.family === 'ipv6' ? ' IPv6' : ''} ${service.scheduler}`;
  else line = `${service.protocol.toUpperCase()} ${hostPort(service.address, service.port)} ${service.scheduler}`;
  if (service.persistent) {
    line += ` persistent ${service.timeout}`;
    const defaultMask = service.family === 'ipv4' ? '255.255.255.255' : 128;
    if (service.netmask !== defaultMask) line += ` mask ${service.netmask}`;
  }
  return line;
}

/** The same table as our client reads it. */
export function clientTable(client: IpvsClient): Table {
  return sortTable(
    client.listServices().map((service) => [
      serviceLine(service),
      ...client
        .listDestinations(service)
        .map((d) => `-> ${hostPort(d.address, d.port)} ${forwardNames[d.forward]} ${d.weight} ${d.upperThreshold} ${d.lowerThreshold}`),
    ]),
  );
}
