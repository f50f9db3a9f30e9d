/**
 * Where the real (kernel) dataplane comes in: kernel.ts (IPVS and routes through
 * @lvscare/ipvs-native, sysctls, nftables masquerade). Imported lazily so that commands which
 * never touch the kernel (help, version, static-pod, bad input) never load koffi. Opening it
 * changes nothing on the host; a kernel without IPVS fails here with a clear DataplaneError.
 */
import type { MasqueradeBackend } from "./kernel-masquerade.ts";
import type { Dataplane } from "./types.ts";

export interface KernelDataplaneChoices {
  /** Link mode's masquerade tool; validated by the CLI before anything is opened. */
  readonly masquerade?: MasqueradeBackend;
}

export async function createKernelDataplane(choices: KernelDataplaneChoices = {}): Promise<Dataplane> {
  const { KernelDataplane } = await import("./kernel.ts");
  return KernelDataplane.open(choices.masquerade === undefined ? {} : { masquerade: choices.masquerade });
}
