/** Pieces every kubeadm subcommand shares: global flags, reading --config, token generation. */
import { randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import type { FlagSpec, ParsedFlags } from "../lib/flags.ts";
import { kubeadmError } from "./output.ts";

export const GLOBAL_FLAGS: readonly FlagSpec[] = [
  { name: "v", short: "v", kind: "int" },
  { name: "rootfs", kind: "string" },
  { name: "add-dir-header", kind: "bool" },
  { name: "log-file", kind: "string" },
  { name: "skip-headers", kind: "bool" },
  { name: "skip-log-headers", kind: "bool" },
];

export function readConfigFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw kubeadmError(`unable to read config from "${path}" : open ${path}: ${code === "ENOENT" ? "no such file or directory" : code === "EACCES" ? "permission denied" : String(error)}`);
  }
}

/** kubeadm: "can not mix '--config' with arguments [...]". */
export function refuseMixedFlags(flags: ParsedFlags, mixable: readonly string[]): void {
  if (flags.string("rootfs") !== undefined) throw kubeadmError("--rootfs is not modelled by this fake");
  if (!flags.given.has("config")) return;
  const mixed = [...flags.given].filter((name) => !mixable.includes(name)).sort();
  if (mixed.length > 0) throw kubeadmError(`can not mix '--config' with arguments [${mixed.join(" ")}]`);
}

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
const random = (length: number) => Array.from({ length }, () => ALPHABET[randomInt(ALPHABET.length)]).join("");

export function generateToken(): string {
  return `${random(6)}.${random(16)}`;
}
