/**
 * Fake systemctl for the units a Kubernetes node has: kubelet and containerd (shipped with the
 * fakes, as their packages would ship unit files) and any *.service file under
 * /etc/systemd/system. State (enabled, active) is kept per host in SYSTEMCTL_STATE. Starting
 * containerd starts the fake containerd daemon (its socket is what kubeadm's CRI check dials);
 * the kubelet runs nothing, and shows `activating` until kubeadm wrote its config, as a real
 * kubelet crash-looping under systemd would.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SYSTEMCTL_STATE } from "../contract.ts";
import { runningPid, startDaemon, stopDaemon } from "../lib/daemon.ts";
import { FakeExit, banner, runFake } from "../lib/fake-tool.ts";
import { FlagError, parseFlags } from "../lib/flags.ts";

interface UnitState {
  enabled: boolean;
  active: boolean;
}

const BUILT_IN = ["kubelet", "containerd"];
const CONTAINERD_ENTRY = join(dirname(fileURLToPath(import.meta.url)), "containerd.ts");

function knownUnits(): string[] {
  const dir = "/etc/systemd/system";
  const files = existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith(".service")).map((name) => name.slice(0, -".service".length)) : [];
  return [...new Set([...BUILT_IN, ...files])];
}

function load(): Record<string, UnitState> {
  try {
    return JSON.parse(readFileSync(SYSTEMCTL_STATE, "utf8")) as Record<string, UnitState>;
  } catch {
    return {};
  }
}

function save(state: Record<string, UnitState>): void {
  mkdirSync(dirname(SYSTEMCTL_STATE), { recursive: true });
  writeFileSync(`${SYSTEMCTL_STATE}.tmp`, JSON.stringify(state, null, 2));
  renameSync(`${SYSTEMCTL_STATE}.tmp`, SYSTEMCTL_STATE);
}

const unitName = (arg: string) => arg.replace(/\.service$/, "");

function activeState(unit: string, state: UnitState | undefined): "active" | "inactive" | "activating" {
  if (unit === "containerd") return runningPid("containerd", CONTAINERD_ENTRY) === undefined ? "inactive" : "active";
  if (state?.active !== true) return "inactive";
  if (unit === "kubelet" && !existsSync("/var/lib/kubelet/config.yaml")) return "activating";
  return "active";
}

async function start(unit: string, state: Record<string, UnitState>): Promise<void> {
  if (unit === "containerd" && runningPid("containerd", CONTAINERD_ENTRY) === undefined) {
    startDaemon("containerd", process.execPath, [CONTAINERD_ENTRY], { ...process.env });
  }
  state[unit] = { enabled: state[unit]?.enabled ?? false, active: true };
}

async function stop(unit: string, state: Record<string, UnitState>): Promise<void> {
  if (unit === "containerd") await stopDaemon("containerd", CONTAINERD_ENTRY);
  state[unit] = { enabled: state[unit]?.enabled ?? false, active: false };
}

async function main(argv: string[]): Promise<number> {
  let flags;
  try {
    flags = parseFlags(argv, [
      { name: "now", kind: "bool" },
      { name: "quiet", short: "q", kind: "bool" },
      { name: "no-pager", kind: "bool" },
      { name: "no-block", kind: "bool" },
      { name: "full", short: "l", kind: "bool" },
      { name: "help", short: "h", kind: "bool" },
      { name: "version", kind: "bool" },
    ]);
  } catch (error) {
    if (error instanceof FlagError) throw new FakeExit(1, `systemctl: unrecognized option '${/(--?\S+)/.exec(error.message.replace(/^unknown shorthand flag: '(.)'.*/, "-$1"))?.[1] ?? ""}' (${banner("systemctl")})`);
    throw error;
  }
  if (flags.bool("help") || flags.bool("version")) {
    process.stdout.write(`${banner("systemctl")}\nsystemd 252 (252) FAKE: units ${knownUnits().join(", ")}; state in ${SYSTEMCTL_STATE}\n`);
    return 0;
  }
  const [verb, ...args] = flags.args;
  const state = load();
  const units = args.map(unitName);
  const known = knownUnits();
  const quiet = flags.bool("quiet");
  switch (verb) {
    case "daemon-reload":
      return 0;
    case "enable":
    case "disable": {
      if (units.length === 0) throw new FakeExit(1, `Too few arguments. (${banner("systemctl")})`);
      for (const unit of units) if (!known.includes(unit)) throw new FakeExit(1, `Failed to ${verb} unit: Unit file ${unit}.service does not exist. (${banner("systemctl")})`);
      for (const unit of units) {
        state[unit] = { enabled: verb === "enable", active: state[unit]?.active ?? false };
        if (!quiet) process.stderr.write(verb === "enable" ? `Created symlink /etc/systemd/system/multi-user.target.wants/${unit}.service → /lib/systemd/system/${unit}.service. (FAKE)\n` : `Removed /etc/systemd/system/multi-user.target.wants/${unit}.service. (FAKE)\n`);
        if (flags.bool("now")) await (verb === "enable" ? start(unit, state) : stop(unit, state));
      }
      save(state);
      return 0;
    }
    case "start":
    case "stop":
    case "restart": {
      if (units.length === 0) throw new FakeExit(1, `Too few arguments. (${banner("systemctl")})`);
      for (const unit of units) {
        if (!known.includes(unit)) throw new FakeExit(5, `Failed to ${verb} ${unit}.service: Unit ${unit}.service not found. (${banner("systemctl")})`);
      }
      for (const unit of units) {
        if (verb !== "start") await stop(unit, state);
        if (verb !== "stop") await start(unit, state);
      }
      save(state);
      return 0;
    }
    case "is-active": {
      const states = units.map((unit) => activeState(unit, state[unit]));
      if (!quiet) process.stdout.write(states.map((value) => `${value}\n`).join(""));
      return states.every((value) => value === "active") ? 0 : 3;
    }
    case "is-enabled": {
      const results = units.map((unit) => (known.includes(unit) ? (state[unit]?.enabled === true ? "enabled" : "disabled") : undefined));
      if (results.includes(undefined)) throw new FakeExit(1, `Failed to get unit file state for ${units[results.indexOf(undefined)]}.service: No such file or directory`);
      if (!quiet) process.stdout.write(results.map((value) => `${value}\n`).join(""));
      return results.every((value) => value === "enabled") ? 0 : 1;
    }
    case "status": {
      let code = 0;
      for (const unit of units) {
        if (!known.includes(unit)) {
          process.stderr.write(`Unit ${unit}.service could not be found.\n`);
          code = 4;
          continue;
        }
        const active = activeState(unit, state[unit]);
        process.stdout.write(`● ${unit}.service - ${unit} (${banner("systemctl")})\n     Loaded: loaded (/lib/systemd/system/${unit}.service; ${state[unit]?.enabled === true ? "enabled" : "disabled"})\n     Active: ${active}\n`);
        if (active !== "active" && code === 0) code = 3;
      }
      return code;
    }
    default:
      throw new FakeExit(1, verb === undefined ? `${banner("systemctl")}: no command given` : `Unknown command verb ${verb}. (${banner("systemctl")})`);
  }
}

await runFake("systemctl", main);
