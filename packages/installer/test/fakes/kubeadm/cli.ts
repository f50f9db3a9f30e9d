/** The fake kubeadm's command tree; every command it does not model is refused, never faked as done. */
import { parseFlags } from "../lib/flags.ts";
import { banner } from "../lib/fake-tool.ts";
import { readSettings } from "../lib/settings.ts";
import { parseVersion } from "../lib/version.ts";
import { runCerts } from "./certs.ts";
import { GLOBAL_FLAGS, readConfigFile } from "./common.ts";
import { initSettings, joinSettings, loadDocuments } from "./config.ts";
import { runInit } from "./init.ts";
import { runJoin } from "./join.ts";
import { kubeadmError, print } from "./output.ts";
import { runReset } from "./reset.ts";
import { runToken } from "./token.ts";
import { validateInit, validateJoin } from "./validate.ts";

const HELP = `${banner("kubeadm")}: a test double of kubeadm for the lvscare installer's tests.
It is not kubeadm: it runs a real etcd and a stand-in API server, and refuses what kubeadm refuses.

Usage:
  kubeadm [command]

Available Commands:
  certs       check-expiration
  config      validate --config FILE
  init        --config FILE [--skip-phases ...] [--upload-certs] [--skip-token-print] [--skip-certificate-key-print]
  join        --config FILE | ENDPOINT --token T --discovery-token-ca-cert-hash H [--control-plane]
  reset       [-f]
  token       create [--print-join-command] | list | delete | generate
  version     [-o short|json|yaml]
`;

function version(argv: readonly string[]): number {
  const flags = parseFlags(argv, [...GLOBAL_FLAGS, { name: "output", short: "o", kind: "string" }]);
  const text = readSettings().kubeadmVersion;
  const parsed = parseVersion(text);
  if (parsed === undefined) throw kubeadmError(`the fake's kubeadmVersion setting "${text}" is not a version`);
  const info = {
    major: String(parsed.major),
    minor: String(parsed.minor),
    gitVersion: text,
    gitCommit: "fake",
    gitTreeState: "clean",
    buildDate: "1970-01-01T00:00:00Z",
    goVersion: "none (FAKE kubeadm)",
    compiler: "gc",
    platform: "linux/amd64",
  };
  process.stderr.write(`${banner("kubeadm")}\n`);
  switch (flags.string("output") ?? "") {
    case "short":
      print(text);
      return 0;
    case "json":
      print(JSON.stringify({ clientVersion: info }, null, 2));
      return 0;
    case "yaml":
      print(`clientVersion:\n${Object.entries(info).map(([key, value]) => `  ${key}: ${value}`).join("\n")}`);
      return 0;
    case "":
      print(`kubeadm version: &version.Info{Major:"${info.major}", Minor:"${info.minor}", GitVersion:"${text}", GitCommit:"fake", GitTreeState:"clean", BuildDate:"${info.buildDate}", GoVersion:"${info.goVersion}", Compiler:"gc", Platform:"linux/amd64"}`);
      return 0;
    default:
      throw kubeadmError(`invalid output format: ${flags.string("output")}`);
  }
}

/** `kubeadm config validate`: the strict check (unknown fields are errors here in the real one too). */
function configValidate(argv: readonly string[]): number {
  const flags = parseFlags(argv, [...GLOBAL_FLAGS, { name: "config", kind: "string" }, { name: "allow-experimental-api", kind: "bool" }]);
  const path = flags.string("config");
  if (path === undefined) throw kubeadmError("the --config flag is mandatory");
  const kubeadm = parseVersion(readSettings().kubeadmVersion);
  if (kubeadm === undefined) throw kubeadmError("bad kubeadmVersion setting");
  const loaded = loadDocuments(readConfigFile(path), kubeadm);
  if (loaded.documents.some((doc) => doc.kind === "JoinConfiguration")) validateJoin(joinSettings(loaded), kubeadm);
  else validateInit(initSettings(loaded, kubeadm), kubeadm);
  print("ok");
  return 0;
}

export async function kubeadmMain(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case "help":
    case "--help":
    case "-h":
      print(HELP);
      return 0;
    case "version":
      return version(rest);
    case "init":
      if (rest[0] === "phase") throw kubeadmError("FAKE kubeadm does not model `kubeadm init phase`; run the whole init");
      return runInit(rest);
    case "join":
      if (rest[0] === "phase") throw kubeadmError("FAKE kubeadm does not model `kubeadm join phase`; run the whole join");
      return runJoin(rest);
    case "reset":
      return runReset(rest);
    case "token":
      return runToken(rest);
    case "certs":
      return runCerts(rest);
    case "config":
      if (rest[0] === "validate") return configValidate(rest.slice(1));
      throw kubeadmError(`FAKE kubeadm does not model "kubeadm config ${rest[0] ?? ""}" (only config validate)`);
    case "upgrade":
    case "kubeconfig":
    case "completion":
      throw kubeadmError(`FAKE kubeadm does not model "kubeadm ${command}"`);
    default:
      if (command.startsWith("-")) {
        parseFlags([command], GLOBAL_FLAGS);
        print(HELP);
        return 0;
      }
      throw kubeadmError(`unknown command "${command}" for "kubeadm"`);
  }
}
