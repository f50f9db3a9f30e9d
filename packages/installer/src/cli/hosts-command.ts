/** `seal hosts set NAME=IP...` and `seal hosts remove NAME...` on a local hosts file. */
import { InputError } from "../errors.ts";
import { describeConflict, removeHostsEntries, setHostsEntries, type HostsConflict, type HostsEntry } from "../hosts/hosts-file.ts";
import { editHostsFile } from "../hosts/hosts-io.ts";
import type { Output } from "./output.ts";

export function parseHostsAssignments(assignments: readonly string[]): HostsEntry[] {
  if (assignments.length === 0) throw new InputError("hosts set: give at least one NAME=IP");
  return assignments.map((assignment) => {
    const eq = assignment.indexOf("=");
    if (eq <= 0) throw new InputError(`hosts set: "${assignment}" is not NAME=IP`);
    return { name: assignment.slice(0, eq), ip: assignment.slice(eq + 1) };
  });
}

export async function runHostsSet(file: string, assignments: readonly string[], out: Output): Promise<void> {
  const entries = parseHostsAssignments(assignments);
  // Validate on an empty text first: bad names or addresses are refused before the file is read.
  setHostsEntries("", entries);
  const result = await editHostsFile(file, (text) => setHostsEntries(text, entries));
  report(file, result.changed, result.conflicts, out);
}

export async function runHostsRemove(file: string, names: readonly string[], out: Output): Promise<void> {
  if (names.length === 0) throw new InputError("hosts remove: give at least one NAME");
  removeHostsEntries("", names);
  const result = await editHostsFile(file, (text) => removeHostsEntries(text, names));
  report(file, result.changed, result.conflicts, out);
}

function report(file: string, changed: boolean, conflicts: readonly HostsConflict[], out: Output): void {
  for (const conflict of conflicts) out.warn(describeConflict(conflict, file));
  out.info(changed ? `${file}: updated` : `${file}: already up to date`);
}
