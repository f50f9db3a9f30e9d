/**
 * The lvscare image's configuration, stated once: release/image.ts commits it and
 * images/lvscare/Containerfile repeats it for Docker/Podman users (test/dist/image.test.ts checks
 * that the two agree).
 */
import { DEFAULT_LVSCARE_IMAGE, LVSCARE_COMMAND } from "@lvscare/contracts/names";

/** `localhost/lvscare:<version>`: what `lvscare static-pod` and `seal render` name by default. */
export const IMAGE_REFERENCE = DEFAULT_LVSCARE_IMAGE;
/** sealos's manifest runs `command: [/usr/bin/lvscare]`. */
export const IMAGE_ENTRYPOINT: readonly string[] = [LVSCARE_COMMAND];
export const IMAGE_CMD: readonly string[] = ["--help"];
/** The daemon finds nft, iptables and modprobe in these (kernel-masquerade.ts, ipvs-native). */
export const IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** The daemon stops probing and leaves the rules in place on SIGTERM. */
export const IMAGE_STOP_SIGNAL = "SIGTERM";

export interface ImageLabelInputs {
  readonly version: string;
  readonly commit: string;
  readonly created: string;
  readonly source: string;
}

export function imageLabels(inputs: ImageLabelInputs): Record<string, string> {
  return {
    "org.opencontainers.image.title": "lvscare",
    "org.opencontainers.image.description": "Node-local IPVS load balancer for kube-apiserver, a drop-in for sealos's lvscare",
    "org.opencontainers.image.version": inputs.version,
    "org.opencontainers.image.revision": inputs.commit,
    "org.opencontainers.image.created": inputs.created,
    "org.opencontainers.image.source": inputs.source,
    "org.opencontainers.image.licenses": "Apache-2.0",
  };
}
