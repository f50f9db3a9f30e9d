/**
 * The `lvscare care` flags: upstream's, with their CARE_* environment variables, plus ours. One
 * table drives commander (parsing, --help) and the environment fallback, so they cannot drift.
 */
import { type Command, Option } from "commander";
import { CARE_DEFAULTS, type RawCareOptions, SCHEDULERS } from "../config.ts";

/** `care --help`'s closing words: how our defaults differ from upstream's, and how to get upstream's. */
export const CARE_HELP_AFTER = `
Compatible with upstream lvscare: the same flags and CARE_* variables, so a manifest written by
sealos works unchanged. Defaults differ where upstream's cannot meet sub-second failover
(upstream: --interval 5s --health-timeout 10s, one failure quiesces): here a master that refuses
connections is out within a second, a silent (blackholed) one within 3 s, and one lost packet
removes nothing. Pass --interval 5s --health-timeout 10s --fall 1 --rise 1 for upstream's pace.
`;

interface CareFlag {
  readonly key: keyof RawCareOptions;
  readonly flags: string;
  readonly description: string;
  /** Shown in --help; omitted when there is none. */
  readonly defaultText?: string;
  /** May be given several times (and as comma lists). */
  readonly repeatable?: boolean;
}

export const CARE_FLAGS: readonly CareFlag[] = [
  { key: "vs", flags: "--vs <ip:port>", description: "virtual server, e.g. 10.103.97.2:6443 or [fd00::10]:6443 (required)" },
  { key: "rs", flags: "--rs <ip:port>", description: "real server (a master); repeat the flag or give a comma list (required unless -C)", repeatable: true },
  { key: "scheduler", flags: "--scheduler <name>", description: `IPVS scheduler: ${SCHEDULERS.join(", ")}`, defaultText: CARE_DEFAULTS.scheduler },
  { key: "mode", flags: "--mode <mode>", description: 'route: VIP route via the node IP; link: dummy interface + masquerade (a master on this host); "": IPVS rules only', defaultText: CARE_DEFAULTS.mode },
  { key: "iface", flags: "-i, --iface <name>", description: "dummy interface holding the VIP (link mode)", defaultText: CARE_DEFAULTS.iface },
  { key: "ip", flags: "--ip <ip>", description: "route-mode gateway (this node's IP); default: the lvscare.node.ip entry of /etc/hosts" },
  { key: "masqueradebit", flags: "--masqueradebit <bit>", description: "firewall mark bit 0..31 selecting VIP traffic to masquerade (link mode)", defaultText: CARE_DEFAULTS.masqueradebit },
  { key: "runOnce", flags: "--run-once [bool]", description: "probe every master once, program the healthy ones and exit (before kubeadm join)", defaultText: "false" },
  { key: "clean", flags: "-C, --clean [bool]", description: "remove the virtual server and the route/link rules, then exit", defaultText: "false" },
  { key: "interval", flags: "--interval <duration>", description: "probe interval: 5 (seconds), 5s, 500ms. Upstream: 5s", defaultText: CARE_DEFAULTS.interval },
  { key: "healthTimeout", flags: "--health-timeout <duration>", description: "per-probe timeout. Upstream: 10s", defaultText: CARE_DEFAULTS.healthTimeout },
  { key: "fall", flags: "--fall <n>", description: "consecutive failed probes that take a master out (new; a slow probe is hedged on a fresh connection after 250ms)", defaultText: CARE_DEFAULTS.fall },
  { key: "rise", flags: "--rise <n>", description: "consecutive good probes that bring a master back (new)", defaultText: CARE_DEFAULTS.rise },
  { key: "allDown", flags: "--all-down <policy>", description: "when every master fails: keep (all stay in, fail open, logged as error) or remove (new)", defaultText: CARE_DEFAULTS.allDown },
  { key: "healthPath", flags: "--health-path <path>", description: "URL path probed (leading / added)", defaultText: CARE_DEFAULTS.healthPath },
  { key: "healthSchem", flags: "--health-schem <scheme>", description: "http or https (upstream's spelling)", defaultText: CARE_DEFAULTS.healthSchem },
  { key: "healthReqMethod", flags: "--health-req-method <method>", description: "HTTP method of the probe", defaultText: CARE_DEFAULTS.healthReqMethod },
  { key: "healthReqBody", flags: "--health-req-body <body>", description: "request body, sent only when non-empty" },
  { key: "healthReqHeaders", flags: "--health-req-headers <k=v>", description: "request headers k=v, comma list or repeated (values are never logged)", repeatable: true },
  { key: "healthStatus", flags: "--health-status <codes>", description: "extra status codes >= 400 that count as healthy, e.g. 401 (k3s)", repeatable: true },
  { key: "healthInsecureSkipVerify", flags: "--health-insecure-skip-verify [bool]", description: "do not verify the master's certificate", defaultText: "true; false with --health-ca-file" },
  { key: "healthCaFile", flags: "--health-ca-file <path>", description: "verify the master's certificate (IP SAN) against this CA bundle, e.g. /etc/kubernetes/pki/ca.crt (new)" },
  { key: "metricsAddr", flags: "--metrics-addr <host:port>", description: "serve Prometheus /metrics, /healthz and /readyz here, e.g. 127.0.0.1:9192 (new; off by default)" },
  { key: "logger", flags: "--logger <level>", description: "log level: INFO or DEBG", defaultText: CARE_DEFAULTS.logger },
  { key: "logFormat", flags: "--log-format <format>", description: "text (one readable line per event) or json (new)", defaultText: CARE_DEFAULTS.logFormat },
];

/** CARE_<FLAG>: upper case, dashes to underscores (CARE_VS, CARE_HEALTH_SCHEM, CARE_RUN_ONCE, ...). */
export function envNameOf(flag: CareFlag): string {
  const long = /--([a-z-]+)/.exec(flag.flags)?.[1] ?? flag.key;
  return `CARE_${long.toUpperCase().replaceAll("-", "_")}`;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export function addCareOptions(command: Command): void {
  for (const flag of CARE_FLAGS) {
    const notes = [flag.defaultText === undefined ? undefined : `default: ${flag.defaultText}`, `env: ${envNameOf(flag)}`];
    const option = new Option(flag.flags, `${flag.description} (${notes.filter(Boolean).join(", ")})`);
    if (flag.repeatable) option.argParser(collect);
    command.addOption(option);
  }
}

/** Options as given on the command line, with CARE_* variables filling what the command line did not set. */
export function collectCareOptions(command: Command, env: Readonly<Record<string, string | undefined>>): RawCareOptions {
  const raw: Record<string, unknown> = {};
  for (const flag of CARE_FLAGS) {
    const fromCli = command.getOptionValueSource(flag.key) === "cli";
    const value: unknown = command.getOptionValue(flag.key);
    if (fromCli) {
      raw[flag.key] = value;
      continue;
    }
    const fromEnv = env[envNameOf(flag)];
    if (fromEnv !== undefined) raw[flag.key] = flag.repeatable ? [fromEnv] : fromEnv;
  }
  return raw as RawCareOptions;
}
