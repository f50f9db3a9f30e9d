/** A HostPool for tests against test hosts: its own known_hosts, every log line captured. */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCredentials, type SshCredentialsInput } from "../../src/ssh/credentials.ts";
import { HostPool, type HostPoolOptions } from "../../src/ssh/host-pool.ts";
import { createLogger, type LogFormat } from "../../src/ssh/logger.ts";
import { requireTool, runOk } from "./tools.ts";
import type { TestHosts } from "../hosts/test-hosts.ts";

export interface CapturedPool {
  readonly pool: HostPool;
  readonly knownHostsPath: string;
  /** Everything the pool logged, at debug level and up. */
  output(): string;
  close(): Promise<void>;
}

export async function testPool(
  hosts: TestHosts,
  credentials: SshCredentialsInput,
  options: Partial<Omit<HostPoolOptions, "credentials">> & { format?: LogFormat } = {},
): Promise<CapturedPool> {
  const dir = await mkdtemp(join(tmpdir(), "seal-ssh-test-"));
  const knownHostsPath = join(dir, "known_hosts");
  let output = "";
  const logger = createLogger({ level: "debug", format: options.format ?? "plain", destination: { write: (line: string) => (output += line) } });
  const pool = new HostPool({
    credentials: await loadCredentials({ agentSocket: null, ...credentials }),
    hostKeys: { knownHostsPath },
    createSocket: hosts.createSocket,
    logger,
    ...options,
  });
  return {
    pool,
    knownHostsPath,
    output: () => output,
    async close() {
      await pool.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface KeyPair {
  readonly path: string;
  readonly publicKey: string;
}

/** A fresh key pair made by ssh-keygen (OpenSSH format), optionally encrypted. */
export async function generateKeyPair(dir: string, name: string, type: string, passphrase = ""): Promise<KeyPair> {
  const path = join(dir, name);
  const bits = type === "rsa" ? ["-b", "2048"] : [];
  await runOk(requireTool("ssh-keygen"), ["-q", "-t", type, ...bits, "-N", passphrase, "-C", `seal-test-${name}`, "-f", path]);
  return { path, publicKey: (await readFile(`${path}.pub`, "utf8")).trim() };
}
