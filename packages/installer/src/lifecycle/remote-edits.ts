/**
 * Edits on a remote host that keep everything of the user's: the /etc/hosts managed block (the
 * same pure editor `seal hosts` uses), files written only when their content differs, and our
 * markers of finished steps (`/var/lib/seal/<cluster>/done/<step>`), which make every step
 * check before it acts.
 */
import { HOSTS_FILE } from "@lvscare/contracts/names";
import { removeHostsEntries, setHostsEntries } from "../hosts/hosts-file.ts";
import type { PlanHostsEntry } from "../plan/plan.ts";
import type { RemoteHost } from "../ssh/remote-host.ts";

export function markerPath(cluster: string, step: string): string {
  return `/var/lib/seal/${cluster}/done/${step}`;
}

export async function isMarked(host: RemoteHost, cluster: string, step: string): Promise<boolean> {
  return (await host.run(["test", "-e", markerPath(cluster, step)], { allowExitCodes: [0, 1] })).exitCode === 0;
}

export async function mark(host: RemoteHost, cluster: string, step: string): Promise<void> {
  await host.writeFileAtomic(markerPath(cluster, step), `${new Date().toISOString()}\n`, { mode: 0o644 });
}

/** Sets our names in the managed block; returns whether the file changed. */
export async function setRemoteHostsEntries(host: RemoteHost, entries: readonly PlanHostsEntry[]): Promise<boolean> {
  if (entries.length === 0) return false;
  const text = (await host.readFile(HOSTS_FILE))?.toString("utf8") ?? "";
  const edited = setHostsEntries(text, entries.flatMap((entry) => entry.names.map((name) => ({ ip: entry.ip, name }))));
  if (edited.text === text) return false;
  await host.writeFileAtomic(HOSTS_FILE, edited.text, { mode: 0o644 });
  return true;
}

/** Removes our names from the managed block (the block goes when empty); user lines stay byte for byte. */
export async function removeRemoteHostsNames(host: RemoteHost, names: readonly string[]): Promise<boolean> {
  const text = (await host.readFile(HOSTS_FILE))?.toString("utf8");
  if (text === undefined || names.length === 0) return false;
  const edited = removeHostsEntries(text, names);
  if (edited.text === text) return false;
  await host.writeFileAtomic(HOSTS_FILE, edited.text, { mode: 0o644 });
  return true;
}
