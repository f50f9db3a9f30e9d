// The same small workloads on the host and in the VM, so the VM's CPU figures can be scaled: qemu
// TCG translates every guest instruction, and how much that costs depends on the kind of work
// (JIT-compiled JavaScript, TLS in OpenSSL, system calls and process start-up differ). The daemon's
// steady work is closest to the HTTPS keep-alive loop: TLS records, HTTP parsing, timers.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { run } from '../../test/harness/command.ts';
import { median } from './stats.ts';

export interface Calibration {
  /** CPU ms of a fixed integer loop (JIT code only). */
  jsLoopCpuMs: number;
  /** CPU ms of 400 HTTPS requests on one kept-alive connection, client and server in this process. */
  httpsKeepAliveCpuMs: number;
  /** Wall ms of `node -e 0`. */
  nodeStartMs: number;
}

export async function calibrate(): Promise<Calibration> {
  const jsLoopCpuMs = median([0, 1, 2].map(() => cpuMs(jsLoop)));
  const httpsKeepAliveCpuMs = median(await httpsRounds(3));
  const nodeStartMs = median(
    [0, 1, 2, 3, 4].map(() => {
      const started = performance.now();
      const result = spawnSync(process.execPath, ['-e', '0']);
      if (result.status !== 0) throw new Error(`node -e 0 failed: ${result.stderr.toString()}`);
      return performance.now() - started;
    }),
  );
  return { jsLoopCpuMs, httpsKeepAliveCpuMs, nodeStartMs };
}

function cpuMs(work: () => void): number {
  const before = process.cpuUsage();
  work();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

function jsLoop(): void {
  let x = 1;
  for (let i = 0; i < 60_000_000; i++) x = (Math.imul(x, 1103515245) + 12345) >>> 0;
  if (x === 0.5) console.log('unreachable'); // keeps the loop from being optimised away
}

async function httpsRounds(rounds: number): Promise<number[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lvscare-calibrate-'));
  try {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    await run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=calibrate', '-keyout', key, '-out', cert]);
    const server = https.createServer({ key: readFileSync(key), cert: readFileSync(cert), keepAliveTimeout: 60_000 }, (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const results: number[] = [];
    try {
      for (let round = 0; round < rounds; round++) {
        const agent = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
        const before = process.cpuUsage();
        for (let i = 0; i < 400; i++) await get(`https://127.0.0.1:${port}/healthz`, agent);
        const used = process.cpuUsage(before);
        agent.destroy();
        results.push((used.user + used.system) / 1000);
      }
    } finally {
      server.closeAllConnections();
      server.close();
    }
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function get(url: string, agent: https.Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { agent }, (response) => {
        response.resume();
        response.on('end', () => (response.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${response.statusCode}`))));
      })
      .on('error', reject);
  });
}

/** VM / host, per workload. */
export function slowdown(vm: Calibration, host: Calibration): Record<keyof Calibration, number> {
  return {
    jsLoopCpuMs: vm.jsLoopCpuMs / host.jsLoopCpuMs,
    httpsKeepAliveCpuMs: vm.httpsKeepAliveCpuMs / host.httpsKeepAliveCpuMs,
    nodeStartMs: vm.nodeStartMs / host.nodeStartMs,
  };
}
