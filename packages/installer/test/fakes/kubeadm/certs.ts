/** `kubeadm certs check-expiration`: dates read by openssl from the files kubeadm manages. */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseFlags } from "../lib/flags.ts";
import { readKubeconfig } from "../lib/kubeconfig.ts";
import { readCertificate, withPemFiles } from "../lib/openssl.ts";
import { GLOBAL_FLAGS } from "./common.ts";
import { KUBERNETES_DIR } from "./init.ts";
import { kubeadmError, print } from "./output.ts";

const LEAVES: readonly [string, string, string][] = [
  ["admin.conf", "kubeconfig", "ca"],
  ["apiserver", "cert", "ca"],
  ["apiserver-etcd-client", "cert", "etcd-ca"],
  ["apiserver-kubelet-client", "cert", "ca"],
  ["controller-manager.conf", "kubeconfig", "ca"],
  ["etcd-healthcheck-client", "cert", "etcd-ca"],
  ["etcd-peer", "cert", "etcd-ca"],
  ["etcd-server", "cert", "etcd-ca"],
  ["front-proxy-client", "cert", "front-proxy-ca"],
  ["scheduler.conf", "kubeconfig", "ca"],
  ["super-admin.conf", "kubeconfig", "ca"],
];

const format = (date: Date) => {
  const month = date.toLocaleString("en-US", { month: "short", timeZone: "UTC" });
  return `${month} ${String(date.getUTCDate()).padStart(2, "0")}, ${date.getUTCFullYear()} ${String(date.getUTCHours()).padStart(2, "0")}:${String(date.getUTCMinutes()).padStart(2, "0")} UTC`;
};

const residual = (date: Date) => {
  const days = Math.floor((date.getTime() - Date.now()) / 86_400_000);
  return days >= 365 ? `${Math.floor(days / 365)}y` : days >= 1 ? `${days}d` : "<invalid>";
};

function table(rows: string[][]): void {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? "").length))) ?? [];
  for (const row of rows) print(row.map((cell, column) => cell.padEnd((widths[column] ?? 0) + 3)).join("").trimEnd());
}

export async function runCerts(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== "check-expiration") {
    throw kubeadmError(sub === undefined ? "missing subcommand; \"certs\" is not meant to be run on its own" : `FAKE kubeadm does not model "kubeadm certs ${sub}" (only check-expiration)`);
  }
  const flags = parseFlags(rest, [...GLOBAL_FLAGS, { name: "cert-dir", kind: "string" }, { name: "config", kind: "string" }, { name: "kubeconfig", kind: "string" }, { name: "output", short: "o", kind: "string" }]);
  const dir = flags.string("cert-dir") ?? "/etc/kubernetes/pki";
  const rows = [["CERTIFICATE", "EXPIRES", "RESIDUAL TIME", "CERTIFICATE AUTHORITY", "EXTERNALLY MANAGED"]];
  for (const [name, type, ca] of LEAVES) {
    let notAfter: Date | undefined;
    if (type === "kubeconfig") {
      const path = join(KUBERNETES_DIR, name);
      if (!existsSync(path)) continue;
      const certPem = readKubeconfig(path).certPem;
      if (certPem !== undefined) notAfter = withPemFiles([certPem], ([file]) => readCertificate(file ?? "").notAfter);
    } else {
      const path = join(dir, `${name.replace(/^etcd-/, "etcd/")}.crt`);
      if (!existsSync(path)) continue;
      notAfter = readCertificate(path).notAfter;
    }
    if (notAfter !== undefined) rows.push([name, format(notAfter), residual(notAfter), ca, "no"]);
  }
  table(rows);
  print("");
  const caRows = [["CERTIFICATE AUTHORITY", "EXPIRES", "RESIDUAL TIME", "EXTERNALLY MANAGED"]];
  for (const [name, file] of [["ca", "ca"], ["etcd-ca", "etcd/ca"], ["front-proxy-ca", "front-proxy-ca"]] as const) {
    const path = join(dir, `${file}.crt`);
    if (!existsSync(path)) continue;
    const notAfter = readCertificate(path).notAfter;
    caRows.push([name, format(notAfter), residual(notAfter), "no"]);
  }
  table(caRows);
  return 0;
}
