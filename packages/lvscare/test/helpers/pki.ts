/**
 * Real certificates for the probe tests, made by the openssl CLI: a CA and server certificates
 * with IP SANs, like kubeadm/sealos issue for apiservers.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ServerCredentials {
  readonly key: string;
  readonly cert: string;
}

export interface TestPki {
  readonly dir: string;
  readonly caCert: string;
  readonly caFile: string;
  /** A server certificate signed by the CA for the given IP SANs. */
  issue(ips: readonly string[]): ServerCredentials;
  /** A self-signed certificate no CA vouches for. */
  selfSigned(ips: readonly string[]): ServerCredentials;
  cleanup(): void;
}

function openssl(args: readonly string[], cwd: string): void {
  try {
    execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "ENOENT") throw new Error("openssl is not installed: apt-get install openssl");
    throw err;
  }
}

export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "lvscare-pki-"));
  const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(
    ["req", "-x509", ...ecKey, "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=lvscare-test-ca", "-days", "2",
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    dir,
  );
  let serial = 0;
  const sans = (ips: readonly string[]): string => `subjectAltName=${ips.map((ip) => `IP:${ip}`).join(",")}`;
  const read = (name: string): string => readFileSync(join(dir, name), "utf8");
  return {
    dir,
    caCert: read("ca.crt"),
    caFile: join(dir, "ca.crt"),
    issue(ips) {
      const name = `server${++serial}`;
      openssl(["req", ...ecKey, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", "/CN=kube-apiserver"], dir);
      writeFileSync(join(dir, `${name}.ext`), `${sans(ips)}\nextendedKeyUsage=serverAuth\n`);
      openssl(
        ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", String(serial + 1000),
          "-out", `${name}.crt`, "-days", "2", "-extfile", `${name}.ext`],
        dir,
      );
      return { key: read(`${name}.key`), cert: read(`${name}.crt`) };
    },
    selfSigned(ips) {
      const name = `self${++serial}`;
      openssl(["req", "-x509", ...ecKey, "-keyout", `${name}.key`, "-out", `${name}.crt`, "-subj", "/CN=rogue", "-days", "2", "-addext", sans(ips)], dir);
      return { key: read(`${name}.key`), cert: read(`${name}.crt`) };
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
