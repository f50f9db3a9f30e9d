/**
 * Where the real dataplane comes in: ipvs.ts (the IPVS table through @lvscare/ipvs-native, with
 * kernel-host.ts for routes, links, masquerade and sysctls) or nftables-dataplane.ts (our own
 * nftables tables through a long-lived `nft -i`). Imported lazily so that commands which
 * never touch the kernel (help, version, static-pod, bad input) never load koffi. Opening it
 * changes nothing on the host; a kernel without IPVS fails here with a clear DataplaneError.
 */
import type { MasqueradeBackend } from "./kernel-masquerade.ts";
import type { Dataplane, DataplaneKind } from "./types.ts";

export interface KernelDataplaneChoices {
  /** Which table technology; resolved before (never "auto" here). Default ipvs. */
  readonly kind?: DataplaneKind;
  /** Link mode's masquerade tool; validated by the CLI before anything is opened. */
  readonly masquerade?: MasqueradeBackend;
  /** Work in /run/netns/<netns> instead of the current network namespace (tests, tools). */
  readonly netns?: string;
  /** nftables: how long one nft command may take before nft counts as wedged (default 5 s). */
  readonly commandTimeoutMs?: number;
  /** nftables: where a lost nft (wedged or dead) and what was done about it is reported, one line each. */
  readonly onProcessLost?: (message: string) => void;
  /** nftables: where a degraded mode (no change check: every pass lists our tables) is reported, one line each. */
  readonly onWarning?: (message: string) => void;
}

export async function createKernelDataplane(choices: KernelDataplaneChoices = {}): Promise<Dataplane> {
  if (choices.kind === "nftables") {
    const { NftablesDataplane } = await import("./nftables-dataplane.ts");
    return NftablesDataplane.open({
      ...(choices.netns === undefined ? {} : { netns: choices.netns }),
      ...(choices.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: choices.commandTimeoutMs }),
      ...(choices.onProcessLost === undefined ? {} : { onProcessLost: choices.onProcessLost }),
      ...(choices.onWarning === undefined ? {} : { onWarning: choices.onWarning }),
    });
  }
  const { IpvsDataplane } = await import("./ipvs.ts");
  return IpvsDataplane.open({
    ...(choices.masquerade === undefined ? {} : { masquerade: choices.masquerade }),
    ...(choices.netns === undefined ? {} : { netns: choices.netns }),
  });
}
