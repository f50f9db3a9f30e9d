/**
 * What the single-file executable reads from its environment besides lvscare's own flags: where
 * it unpacks koffi's native module (release/runtime/koffi-native.ts). The static pod sets it to
 * an exec-allowed emptyDir, so a read-only root filesystem or a noexec /tmp cannot stop it.
 */
export const TMPDIR_VARIABLE = "LVSCARE_TMPDIR";
