import { writeFileAtomic as writeAtomically } from "@lvscare/contracts/atomic-write";

/**
 * Writes `path` so that readers (the kubelet watching its manifest directory) see either the old
 * file or the complete new one; see @lvscare/contracts/atomic-write. A missing manifest directory
 * is created as the kubelet's own is, 0755.
 */
export function writeFileAtomic(path: string, content: string, mode = 0o644): void {
  writeAtomically(path, content, { mode, parentMode: 0o755, writer: "lvscare" });
}
