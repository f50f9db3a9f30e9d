/** This node's IP as the installer recorded it: the `lvscare.node.ip` entry of the hosts file. */
import { readFileSync } from "node:fs";
import { findHostsAddress, NODE_IP_HOST_NAME } from "../hosts-file.ts";
import type { CliIo } from "./io.ts";

const DEFAULT_HOSTS_FILE = "/etc/hosts";

/** /etc/hosts, or the file LVSCARE_HOSTS_FILE names. */
export function hostsFilePath(io: CliIo): string {
  return io.env["LVSCARE_HOSTS_FILE"] ?? DEFAULT_HOSTS_FILE;
}

/** The node IP of `family`; undefined when the file or the entry is missing. */
export function readNodeIp(io: CliIo, family: 4 | 6): string | undefined {
  let text: string;
  try {
    text = readFileSync(hostsFilePath(io), "utf8");
  } catch {
    return undefined;
  }
  return findHostsAddress(text, NODE_IP_HOST_NAME, family);
}
