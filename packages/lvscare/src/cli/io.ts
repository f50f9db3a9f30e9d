/** What the commands get from the outside world; tests pass buffers and the fake dataplane. */
import type { KernelDataplaneChoices } from "../dataplane/index.ts";
import type { Dataplane } from "../dataplane/types.ts";
import type { IpvsSupport } from "./dataplane-choice.ts";

export interface CliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface CliDeps {
  readonly createDataplane: (choices?: KernelDataplaneChoices) => Promise<Dataplane>;
  /** Resolves with a signal name when the daemon should stop (SIGTERM/SIGINT in production). */
  readonly waitForStop: () => Promise<string>;
  /** Whether the kernel has IPVS, for `--dataplane auto` (default: /proc/net/ip_vs, then modprobe ip_vs). */
  readonly detectIpvs?: () => Promise<IpvsSupport>;
  /** Where log lines go (default stdout). */
  readonly logDestination?: { write(line: string): unknown };
}
