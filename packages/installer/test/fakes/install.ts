/**
 * Puts the fakes on a test host: one `#!/bin/sh` wrapper per tool in `targetDir` (the directory
 * that is /usr/local/bin inside the host, first on its PATH), each exec'ing Node 24 on the
 * fake's .ts entry point in this repository, and the host's settings file next to them.
 * The repository (these sources and node_modules, for `yaml`) must be visible at the same path
 * inside the host.
 */
import { accessSync, constants, mkdirSync, writeFileSync, renameSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_SETTINGS, FAKE_TOOLS, SETTINGS_FILE, TOOL_DIR_ENV, type FakeSettings } from "./contract.ts";

export interface InstallFakesOptions {
  /** Absolute path of Node 24 as seen inside the host. */
  readonly node: string;
  /** Directory to write the wrappers into. */
  readonly targetDir: string;
  readonly settings?: Partial<FakeSettings>;
}

const BIN_DIR = join(dirname(fileURLToPath(import.meta.url)), "bin");
const quote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

export function wrapperScript(tool: string, node: string): string {
  return [
    "#!/bin/sh",
    `# FAKE ${tool} (lvscare test double): not the real ${tool}. Written by packages/installer/test/fakes/install.ts.`,
    `${TOOL_DIR_ENV}=$(dirname -- "$0")`,
    `export ${TOOL_DIR_ENV}`,
    `exec ${quote(node)} ${quote(join(BIN_DIR, `${tool}.ts`))} "$@"`,
    "",
  ].join("\n");
}

/** Writes (or rewrites) the settings of the fakes in `targetDir`, e.g. to make hosts disagree on versions. */
export function writeFakeSettings(targetDir: string, settings: Partial<FakeSettings>): void {
  const path = join(targetDir, SETTINGS_FILE);
  writeFileSync(`${path}.tmp`, `${JSON.stringify({ ...DEFAULT_SETTINGS, ...settings }, null, 2)}\n`, { mode: 0o644 });
  renameSync(`${path}.tmp`, path);
}

/** Returns the paths written. Refuses a relative or non-executable node before writing anything. */
export function installFakes(options: InstallFakesOptions): string[] {
  if (!isAbsolute(options.node)) throw new Error(`installFakes: node must be an absolute path, got ${options.node}`);
  accessSync(options.node, constants.X_OK);
  mkdirSync(options.targetDir, { recursive: true, mode: 0o755 });
  const written: string[] = [];
  for (const tool of FAKE_TOOLS) {
    const path = join(options.targetDir, tool);
    writeFileSync(`${path}.tmp`, wrapperScript(tool, options.node), { mode: 0o755 });
    renameSync(`${path}.tmp`, path);
    written.push(path);
  }
  writeFakeSettings(options.targetDir, options.settings ?? {});
  written.push(join(options.targetDir, SETTINGS_FILE));
  return written;
}
