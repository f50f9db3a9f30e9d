/**
 * Applies a hosts edit to a local file: read, edit, and replace atomically with the same mode
 * and owner. A symlinked /etc/hosts is followed (its target is replaced, the link kept). If
 * another writer changes the file between our read and our rename, we start over rather than
 * drop their change.
 */
import { editFileAtomically } from "../fs/edit-file.ts";
import type { HostsEditResult } from "./hosts-file.ts";

const NEW_FILE_MODE = 0o644;

/**
 * Runs `edit` on the file's text and writes the result if it changed. `edit` must be pure (it may
 * run more than once when the file changes under us) and throws to refuse without writing.
 */
export function editHostsFile(path: string, edit: (text: string) => HostsEditResult): Promise<HostsEditResult> {
  return editFileAtomically(path, edit, NEW_FILE_MODE);
}
