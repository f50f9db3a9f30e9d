/**
 * `lvscare` command line, wiring only: commander parses, each command lives in src/cli/, and every
 * failure becomes an exit code here. Every input is validated before anything touches the host;
 * bad input is one line on stderr and exit code 2, a runtime failure exit code 1.
 */
import { Command, CommanderError } from "commander";
import { careCommand } from "./cli/care-command.ts";
import { addCareOptions, CARE_HELP_AFTER, collectCareOptions } from "./cli/care-options.ts";
import { addDataplaneOption, DATAPLANE_HELP, dataplaneNameOf } from "./cli/dataplane-choice.ts";
import type { CliDeps, CliIo } from "./cli/io.ts";
import type { StaticPodFlags } from "./cli/static-pod-command.ts";
import { createKernelDataplane } from "./dataplane/index.ts";
import { UsageError } from "./errors.ts";
import { DEFAULT_LVSCARE_IMAGE, LVSCARE_STATIC_POD_NAME as DEFAULT_STATIC_POD_NAME } from "@lvscare/contracts/names";
import { VERSION } from "./version.ts";
import { versionInfo } from "./build-info.ts";

export type { CliDeps, CliIo } from "./cli/io.ts";

const DEFAULT_MANIFEST_DIR = "/etc/kubernetes/manifests";

export async function main(argv: readonly string[], io: CliIo, deps: CliDeps): Promise<number> {
  let exitCode = 0;
  const program = new Command("lvscare")
    .description("Node-local load balancer for kube-apiserver (kernel IPVS or nftables)")
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: () => undefined, outputError: () => undefined });

  const care = program
    .command("care")
    .description("keep the VIP (an IPVS virtual server or our nftables rules) pointed at the healthy masters")
    .helpOption("-h, --help", "show this help")
    .addHelpText("after", `${CARE_HELP_AFTER}\n${DATAPLANE_HELP}`)
    .action(async () => {
      const dataplane = dataplaneNameOf(care, io.env);
      exitCode = await careCommand(collectCareOptions(care, io.env), io, deps, dataplane);
    });
  addCareOptions(care);
  addDataplaneOption(care);

  program
    .command("version")
    .description("print the version, git commit and build date")
    .option("--short", "only the version number")
    .action((options: { short?: boolean }) => {
      io.stdout.write(
        options.short
          ? `v${VERSION}\n`
          : `${JSON.stringify(versionInfo(VERSION))}\n`,
      );
    });

  const ipvs = program.command("ipvs").description("inspect the kernel's IPVS table");
  ipvs
    .command("list")
    .description("list virtual and real servers like `ipvsadm -Ln`")
    .option("--json", "print JSON")
    .action(async (options: { json?: boolean }) => {
      // Lazily: the formatter brings @lvscare/ipvs-native, which no other command without a kernel needs.
      const { ipvsListCommand } = await import("./cli/ipvs-list-command.ts");
      await ipvsListCommand(options, io, deps);
    });

  const list = program
    .command("list")
    .description("list the VIP table of the active dataplane (IPVS or nftables) in `ipvsadm -Ln`'s columns")
    .option("--json", "print JSON")
    .addHelpText("after", `\nWithout --dataplane (or with auto): nftables when our nftables tables hold a VIP, else IPVS when the kernel has it.\n`)
    .action(async (options: { json?: boolean }) => {
      const { listCommand } = await import("./cli/list-command.ts");
      await listCommand({ ...options, dataplane: dataplaneNameOf(list, { ...io.env, LVSCARE_DATAPLANE: io.env["LVSCARE_DATAPLANE"] ?? "auto" }) }, io, deps);
    });
  addDataplaneOption(list, "whose table to list");

  program
    .command("static-pod")
    .description("write the lvscare static pod manifest (like `sealctl static-pod lvscare`)")
    .option("--vip <ip:port>", "virtual server", "10.103.97.2:6443")
    .option("--masters <ip:port>", "masters; repeat or give a comma list (required)", collectList)
    .option("--image <image>", "lvscare container image", DEFAULT_LVSCARE_IMAGE)
    .option("--name <name>", "pod name", DEFAULT_STATIC_POD_NAME)
    .option("--path <dir>", "manifest directory", DEFAULT_MANIFEST_DIR)
    .option("--print", "print the manifest instead of writing it")
    .option("--options <arg>", "extra `lvscare care` argument, repeatable, e.g. --options=--mode --options=link", collectList)
    .option("--dataplane <name>", "pass --dataplane to `lvscare care`: ipvs, nftables or auto (see `lvscare care --help`)")
    .action(async (options: StaticPodFlags) => {
      // Lazily: the manifest brings the YAML library, which the daemon never needs (resident memory).
      const { staticPodCommand } = await import("./cli/static-pod-command.ts");
      staticPodCommand(options, io);
    });

  try {
    await program.parseAsync([...argv], { from: "user" });
    return exitCode;
  } catch (err) {
    return reportFailure(err, program, io);
  }
}

/** The exit code for what `main` caught, with its one line (or the usage) on stderr. */
function reportFailure(err: unknown, program: Command, io: CliIo): number {
  if (err instanceof CommanderError) {
    if (err.exitCode === 0) return 0;
    if (err.code === "commander.help") {
      // No command given: the usage, on stderr, as a usage error.
      io.stderr.write(program.helpInformation());
      return 2;
    }
    io.stderr.write(`lvscare: ${err.message.replace(/^error: /, "").replace(/\s*\n\s*/g, " ").trim()}\n`);
    return 2;
  }
  if (err instanceof UsageError) {
    io.stderr.write(`lvscare: ${err.message}\n`);
    return 2;
  }
  io.stderr.write(`lvscare: ${err instanceof Error ? err.message : String(err)}\n`);
  return 1;
}

function collectList(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Production wiring: real process streams, the kernel dataplane, SIGTERM/SIGINT. */
export async function run(): Promise<void> {
  const io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env };
  const deps: CliDeps = {
    createDataplane: createKernelDataplane,
    waitForStop: () =>
      new Promise((resolve) => {
        process.once("SIGTERM", () => resolve("SIGTERM"));
        process.once("SIGINT", () => resolve("SIGINT"));
      }),
  };
  process.exitCode = await main(process.argv.slice(2), io, deps);
}
