/**
 * Fake containerd: `--version`, or (as systemctl starts it) a daemon that listens on
 * /run/containerd/containerd.sock so a client dialling the CRI socket finds a runtime. It runs
 * no containers; images are what `ctr images import` recorded.
 */
import { mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { dirname } from "node:path";
import { FakeExit, banner, runFake } from "../lib/fake-tool.ts";
import { FlagError, parseFlags } from "../lib/flags.ts";
import { readSettings } from "../lib/settings.ts";

export const CONTAINERD_SOCKET = "/run/containerd/containerd.sock";

await runFake("containerd", async (argv) => {
  let flags;
  try {
    flags = parseFlags(argv, [
      { name: "version", short: "v", kind: "bool" },
      { name: "help", short: "h", kind: "bool" },
      { name: "config", short: "c", kind: "string" },
      { name: "address", short: "a", kind: "string" },
      { name: "log-level", short: "l", kind: "string" },
    ]);
  } catch (error) {
    if (error instanceof FlagError) throw new FakeExit(1, `containerd: ${error.message.replace("unknown flag: ", "flag provided but not defined: -")}`);
    throw error;
  }
  if (flags.bool("version")) {
    process.stdout.write(`containerd github.com/containerd/containerd v${readSettings().containerdVersion} fake\n`);
    process.stderr.write(`${banner("containerd")}\n`);
    return 0;
  }
  if (flags.bool("help") || flags.args.length > 0) {
    process.stdout.write(`${banner("containerd")}: runs as a daemon listening on ${CONTAINERD_SOCKET}; no containers.\n`);
    return flags.args.length > 0 ? 1 : 0;
  }
  const socket = flags.string("address") ?? CONTAINERD_SOCKET;
  mkdirSync(dirname(socket), { recursive: true });
  rmSync(socket, { force: true });
  const server = createServer((connection) => connection.end());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socket, resolve);
  });
  process.stdout.write(`${new Date().toISOString()} ${banner("containerd")}: serving on ${socket}\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  await new Promise((resolve) => server.close(resolve));
  rmSync(socket, { force: true });
  return 0;
});
