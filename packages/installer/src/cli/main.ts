/**
 * The `seal` command line. Exit status: 0 done, 2 bad input (one line on stderr, nothing
 * written), 1 anything else (an I/O failure, a bug).
 */
import { Command, CommanderError } from "commander";
import { HOSTS_FILE } from "@lvscare/contracts/names";
import { versionInfo } from "@lvscare/lvscare/build-info";
import { DEFAULTS } from "../cluster/spec.ts";
import { InputError } from "../errors.ts";
import { addCertCommand } from "./cert-command.ts";
import { addClusterFlags, clusterInputFrom, type ClusterFlags } from "./flags.ts";
import { runHostsRemove, runHostsSet } from "./hosts-command.ts";
import { streamOutput, type Output } from "./output.ts";
import { runRender } from "./render-command.ts";
import { addLifecycleCommands } from "./run-command.ts";
import { VERSION } from "../version.ts";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

interface RenderFlags extends ClusterFlags {
  kubernetesVersion: string;
  cluster: string;
  output: string;
  pkiDir?: string;
}

function buildProgram(out: Output): Command {
  const program = new Command("seal")
    .description("Installer for HA Kubernetes clusters with lvscare in front of the API servers")
    .showHelpAfterError(false);

  addClusterFlags(
    program
      .command("render")
      .description("write every host's files (kubeadm configs, PKI, kubeconfigs, lvscare pod) and plan.json to -o DIR; nothing is contacted"),
    { kubernetesVersionDefault: DEFAULTS.kubernetesVersion, kubernetesVersionHelp: "v1.22 and later; v1.31+ gets kubeadm v1beta4" },
  )
    .option("--cluster <name>", "cluster name", DEFAULTS.cluster)
    .option("--pki-dir <dir>", "CA directory to reuse (ca, front-proxy-ca, etcd/ca, sa); missing ones are created there, none replaced")
    .requiredOption("-o, --output <dir>", "new or empty directory to write into")
    .action(async (flags: RenderFlags) => {
      await runRender({ ...clusterInputFrom(flags, flags.cluster), output: flags.output, ...(flags.pkiDir === undefined ? {} : { pkiDir: flags.pkiDir }) }, out);
    });

  addLifecycleCommands(program, out);

  addCertCommand(program, out);

  program
    .command("version")
    .description("print the version, git commit and build date")
    .option("--short", "only the version number")
    .action((flags: { short?: boolean }) => {
      out.info(flags.short ? `v${VERSION}` : JSON.stringify(versionInfo(VERSION)));
    });

  const hosts = program.command("hosts").description("edit the seal-managed block of a hosts file");
  hosts
    .command("set")
    .description("add or update NAME=IP entries in the managed block")
    .option("--file <path>", "hosts file", HOSTS_FILE)
    .argument("<entries...>", "NAME=IP")
    .action(async (entries: string[], flags: { file: string }) => runHostsSet(flags.file, entries, out));
  hosts
    .command("remove")
    .description("remove names from the managed block (the block goes when empty)")
    .option("--file <path>", "hosts file", HOSTS_FILE)
    .argument("<names...>", "NAME")
    .action(async (names: string[], flags: { file: string }) => runHostsRemove(flags.file, names, out));
  return program;
}

/** Runs the CLI on `argv` (without node and script) and returns the exit status. */
export async function main(
  argv: readonly string[],
  stdout: NodeJS.WritableStream = process.stdout,
  stderr: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const out = streamOutput(stdout, stderr);
  const program = buildProgram(out);
  for (const command of [program, ...program.commands.flatMap((command) => [command, ...command.commands])]) {
    // Help goes where commander sends it; errors are printed once, below, as one line.
    command.exitOverride().configureOutput({
      writeOut: (text) => stdout.write(text),
      writeErr: (text) => stderr.write(text),
      outputError: () => undefined,
    });
  }
  try {
    await program.parseAsync([...argv], { from: "user" });
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.exitCode === 0) return EXIT_OK;
      // A command group without its subcommand: commander already printed its help to stderr.
      if (error.code === "commander.help") return EXIT_USAGE;
      stderr.write(`seal: error: ${error.message.replace(/^error: /, "")}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof InputError) {
      stderr.write(`seal: error: ${error.message}\n`);
      return EXIT_USAGE;
    }
    stderr.write(`seal: failed: ${(error as Error).message}\n`);
    return EXIT_FAILURE;
  }
}
