/**
 * What `lvscare care` needs besides its flags: the route gateway from the hosts file, the CA
 * bundle, the masquerade tool. All read and checked before anything touches the host, so that bad
 * input is one UsageError and changes nothing.
 */
import { readFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import type { CareConfig } from "../config.ts";
import { MASQUERADE_BACKENDS, type MasqueradeBackend } from "../dataplane/kernel-masquerade.ts";
import { UsageError } from "../errors.ts";
import { NODE_IP_HOST_NAME } from "../hosts-file.ts";
import type { CliIo } from "./io.ts";
import { hostsFilePath, readNodeIp } from "./node-ip.ts";

export interface CareInputs {
  /** Route mode's gateway (this node's IP); undefined in other modes and for -C. */
  readonly gateway: string | undefined;
  /** PEM of --health-ca-file. */
  readonly ca: string | undefined;
  readonly masquerade: MasqueradeBackend;
}

export function resolveCareInputs(config: CareConfig, io: CliIo): CareInputs {
  let gateway = config.nodeIp;
  if (config.mode === "route" && !config.clean && gateway === undefined) {
    gateway = readNodeIp(io, config.virtualServer.family);
    if (gateway === undefined) {
      throw new UsageError(`route mode needs this node's IP: pass --ip or add "<node IP> ${NODE_IP_HOST_NAME}" to ${hostsFilePath(io)}`);
    }
  }
  const ca = config.health.caFile !== undefined && !config.clean ? readCaFile(config.health.caFile) : undefined;
  return { gateway, ca, masquerade: masqueradeBackend(io) };
}

function readCaFile(path: string): string {
  let ca: string;
  try {
    ca = readFileSync(path, "utf8");
  } catch (err) {
    throw new UsageError(`--health-ca-file: cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    new X509Certificate(ca);
  } catch {
    throw new UsageError(`--health-ca-file: ${path} holds no PEM certificate`);
  }
  return ca;
}

/** LVSCARE_MASQUERADE=auto|nft|iptables: link mode's masquerade tool (auto: nftables when it works). */
function masqueradeBackend(io: CliIo): MasqueradeBackend {
  const value = (io.env["LVSCARE_MASQUERADE"] ?? "auto").trim() || "auto";
  const backend = MASQUERADE_BACKENDS.find((b) => b === value);
  if (backend === undefined) throw new UsageError(`LVSCARE_MASQUERADE: "${value}" is not one of ${MASQUERADE_BACKENDS.join(", ")}`);
  return backend;
}
