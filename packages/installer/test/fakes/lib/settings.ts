/** A host's fake settings, read from the tool directory the wrapper ran from. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_SETTINGS, SETTINGS_FILE, TOOL_DIR_ENV, type FakeSettings } from "../contract.ts";
import { FakeExit } from "./fake-tool.ts";

export function toolDir(): string {
  const dir = process.env[TOOL_DIR_ENV];
  if (dir === undefined || dir === "") {
    throw new FakeExit(125, `${TOOL_DIR_ENV} is not set: run the fakes through the wrappers installFakes() writes`);
  }
  return dir;
}

export function readSettings(): FakeSettings {
  const path = join(toolDir(), SETTINGS_FILE);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return DEFAULT_SETTINGS;
  }
  const parsed = JSON.parse(text) as Partial<FakeSettings>;
  return { ...DEFAULT_SETTINGS, ...parsed };
}
