/**
 * `lvscare care` configuration: raw flag/env strings in, a validated CareConfig out. Pure: no file,
 * network or kernel access, so every check happens before the first side effect.
 */
import { canonicalIp, type Endpoint, type ListenAddress, parseEndpoint, parseListenAddress } from "./address.ts";
import { parseDurationMs } from "./duration.ts";
import { UsageError } from "./errors.ts";
import { parseServerList } from "./servers.ts";

export const SCHEDULERS = ["rr", "wrr", "lc", "wlc", "dh", "sh"] as const;
export type Scheduler = (typeof SCHEDULERS)[number];
export type Mode = "route" | "link" | "none";
export type AllDownPolicy = "keep" | "remove";
export type LogFormat = "json" | "text";
export type LogLevel = "info" | "debug";

/**
 * Defaults. Where they differ from upstream (interval 5s, timeout 10s, no fall/rise), it is to
 * meet the failover targets: a killed master out in < 1 s, a blackholed one in < 3 s, while one
 * lost packet removes nothing (see README "Why these defaults").
 */
export const CARE_DEFAULTS = {
  scheduler: "rr",
  iface: "lvscare",
  logger: "INFO",
  mode: "route",
  interval: "1s",
  masqueradebit: "0",
  healthPath: "/healthz",
  healthSchem: "https",
  healthReqMethod: "GET",
  healthInsecureSkipVerify: true,
  healthTimeout: "1s",
  fall: "2",
  rise: "2",
  allDown: "keep",
  logFormat: "text",
} as const;

/** A hedge probe starts when a probe is still unanswered this long (capped by half the timeout). */
export const HEDGE_DELAY_MS = 250;
/**
 * The deadline of a master's probes while its health is still unknown (daemon start, --run-once),
 * when longer than --health-timeout. A new process's first TLS handshakes are slow (cold JIT and
 * crypto, often on a node that is itself starting up), and nothing is at stake yet: the kernel's
 * table is left as it is until a master's health is known.
 */
export const FIRST_CONTACT_TIMEOUT_MS = 5000;

export interface HealthCheckConfig {
  readonly scheme: "http" | "https";
  /** Always starts with `/`. */
  readonly path: string;
  readonly method: string;
  /** Sent only when non-empty, as upstream does. */
  readonly body: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  /** Codes >= 400 that still count as healthy (k3s answers 401 to anonymous /healthz). */
  readonly extraHealthyStatus: readonly number[];
  readonly insecureSkipVerify: boolean;
  readonly caFile: string | undefined;
  readonly timeoutMs: number;
}

export interface CareConfig {
  readonly virtualServer: Endpoint;
  /** Empty only with `clean`. */
  readonly realServers: readonly Endpoint[];
  readonly scheduler: Scheduler;
  readonly mode: Mode;
  readonly iface: string;
  /** Route-mode gateway from --ip; the CLI falls back to the `lvscare.node.ip` hosts entry. */
  readonly nodeIp: string | undefined;
  readonly masqueradeBit: number;
  readonly intervalMs: number;
  readonly hedgeDelayMs: number;
  /** Probe deadline while a master's health is unknown: max(--health-timeout, FIRST_CONTACT_TIMEOUT_MS). */
  readonly firstContactTimeoutMs: number;
  readonly fall: number;
  readonly rise: number;
  readonly allDown: AllDownPolicy;
  readonly health: HealthCheckConfig;
  readonly runOnce: boolean;
  readonly clean: boolean;
  readonly metricsAddr: ListenAddress | undefined;
  readonly logFormat: LogFormat;
  readonly logLevel: LogLevel;
}

/** What the command line and CARE_* variables supplied, unparsed. Lists are per occurrence. */
export interface RawCareOptions {
  vs?: string | undefined;
  rs?: readonly string[] | undefined;
  scheduler?: string | undefined;
  iface?: string | undefined;
  logger?: string | undefined;
  mode?: string | undefined;
  runOnce?: boolean | string | undefined;
  clean?: boolean | string | undefined;
  interval?: string | undefined;
  ip?: string | undefined;
  masqueradebit?: string | undefined;
  healthPath?: string | undefined;
  healthSchem?: string | undefined;
  healthReqMethod?: string | undefined;
  healthReqBody?: string | undefined;
  healthReqHeaders?: readonly string[] | undefined;
  healthStatus?: readonly string[] | undefined;
  healthInsecureSkipVerify?: boolean | string | undefined;
  healthTimeout?: string | undefined;
  healthCaFile?: string | undefined;
  fall?: string | undefined;
  rise?: string | undefined;
  allDown?: string | undefined;
  metricsAddr?: string | undefined;
  logFormat?: string | undefined;
}

export function parseCareConfig(raw: RawCareOptions): CareConfig {
  const clean = parseBool(raw.clean ?? false, "--clean");
  const runOnce = parseBool(raw.runOnce ?? false, "--run-once");
  if (raw.vs === undefined || raw.vs.trim() === "") throw new UsageError("--vs is required (virtual server IP:port)");
  const rsArgs = raw.rs ?? [];
  let virtualServer: Endpoint;
  let realServers: readonly Endpoint[];
  if (clean && rsArgs.length === 0) {
    virtualServer = parseEndpoint(raw.vs, "--vs");
    realServers = [];
  } else {
    ({ virtualServer, realServers } = parseServerList(raw.vs, rsArgs));
  }

  const mode = parseMode(raw.mode ?? CARE_DEFAULTS.mode);
  const nodeIp = raw.ip === undefined || raw.ip.trim() === "" ? undefined : parseNodeIp(raw.ip, virtualServer);
  if (mode === "link" && virtualServer.family === 6) {
    throw new UsageError("--mode link supports IPv4 only (use --mode route for an IPv6 virtual server)");
  }
  const health = parseHealth(raw);
  const intervalMs = parseDurationFlag(raw.interval ?? CARE_DEFAULTS.interval, "--interval");
  if (intervalMs < 100) throw new UsageError(`--interval: ${intervalMs}ms is below the minimum of 100ms`);

  return {
    virtualServer,
    realServers,
    scheduler: parseScheduler(raw.scheduler ?? CARE_DEFAULTS.scheduler),
    mode,
    iface: parseIfaceName(raw.iface ?? CARE_DEFAULTS.iface),
    nodeIp,
    masqueradeBit: parseIntInRange(raw.masqueradebit ?? CARE_DEFAULTS.masqueradebit, "--masqueradebit", 0, 31),
    intervalMs,
    hedgeDelayMs: Math.min(HEDGE_DELAY_MS, health.timeoutMs / 2),
    firstContactTimeoutMs: Math.max(health.timeoutMs, FIRST_CONTACT_TIMEOUT_MS),
    fall: parseIntInRange(raw.fall ?? CARE_DEFAULTS.fall, "--fall", 1, 100),
    rise: parseIntInRange(raw.rise ?? CARE_DEFAULTS.rise, "--rise", 1, 100),
    allDown: parseChoice(raw.allDown ?? CARE_DEFAULTS.allDown, "--all-down", ["keep", "remove"] as const),
    health,
    runOnce,
    clean,
    metricsAddr:
      raw.metricsAddr === undefined || raw.metricsAddr.trim() === ""
        ? undefined
        : parseListenAddress(raw.metricsAddr, "--metrics-addr"),
    logFormat: parseChoice(raw.logFormat ?? CARE_DEFAULTS.logFormat, "--log-format", ["json", "text"] as const),
    logLevel: parseLogger(raw.logger ?? CARE_DEFAULTS.logger),
  };
}

function parseHealth(raw: RawCareOptions): HealthCheckConfig {
  const scheme = parseChoice(raw.healthSchem ?? CARE_DEFAULTS.healthSchem, "--health-schem", ["http", "https"] as const);
  const pathArg = raw.healthPath ?? CARE_DEFAULTS.healthPath;
  if (/[\s#]/.test(pathArg)) {
    throw new UsageError(`--health-path: "${pathArg}" contains blanks or a fragment`);
  }
  const path = pathArg.startsWith("/") ? pathArg : `/${pathArg}`;
  const method = (raw.healthReqMethod ?? CARE_DEFAULTS.healthReqMethod).trim();
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(method) || method.toUpperCase() === "CONNECT") {
    throw new UsageError(`--health-req-method: "${method}" is not a usable HTTP method`);
  }
  const caFile = raw.healthCaFile === undefined || raw.healthCaFile.trim() === "" ? undefined : raw.healthCaFile;
  const skipArg = raw.healthInsecureSkipVerify;
  // A CA file only makes sense when verifying: given one, verification is on unless asked off,
  // and asking for both is a contradiction worth refusing rather than silently ignoring the CA.
  let insecureSkipVerify: boolean;
  if (skipArg === undefined) {
    insecureSkipVerify = caFile === undefined ? CARE_DEFAULTS.healthInsecureSkipVerify : false;
  } else {
    insecureSkipVerify = parseBool(skipArg, "--health-insecure-skip-verify");
    if (insecureSkipVerify && caFile !== undefined) {
      throw new UsageError("--health-ca-file has no effect with --health-insecure-skip-verify=true; drop one of them");
    }
  }
  const timeoutMs = parseDurationFlag(raw.healthTimeout ?? CARE_DEFAULTS.healthTimeout, "--health-timeout");
  if (timeoutMs < 10) throw new UsageError(`--health-timeout: ${timeoutMs}ms is below the minimum of 10ms`);
  const body = raw.healthReqBody === undefined || raw.healthReqBody === "" ? undefined : raw.healthReqBody;
  return {
    scheme,
    path,
    method,
    body,
    headers: parseHeaders(raw.healthReqHeaders ?? []),
    extraHealthyStatus: parseStatusCodes(raw.healthStatus ?? []),
    insecureSkipVerify,
    caFile,
    timeoutMs,
  };
}

function parseScheduler(text: string): Scheduler {
  const found = SCHEDULERS.find((name) => name === text);
  // Upstream's exact wording, which scripts may match on.
  if (!found) throw new UsageError(`invalid flag "scheduler=${text}" (one of ${SCHEDULERS.join(", ")})`);
  return found;
}

function parseMode(text: string): Mode {
  if (text === "") return "none";
  return parseChoice(text, "--mode", ["route", "link"] as const);
}

function parseLogger(text: string): LogLevel {
  switch (text.toUpperCase()) {
    case "INFO":
      return "info";
    case "DEBG":
    case "DEBUG":
      return "debug";
    default:
      throw new UsageError(`--logger: "${text}" is not INFO or DEBG`);
  }
}

function parseNodeIp(text: string, virtualServer: Endpoint): string {
  const ip = canonicalIp(text.trim());
  if (!ip) throw new UsageError(`--ip: "${text}" is not a valid IP address`);
  if (ip.family !== virtualServer.family) {
    throw new UsageError(`--ip: ${ip.ip} is IPv${ip.family} but --vs is IPv${virtualServer.family}`);
  }
  return ip.ip;
}

function parseIfaceName(text: string): string {
  // IFNAMSIZ is 16 with the NUL; '/' and blanks are refused by the kernel.
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(text) || text === "." || text === "..") {
    throw new UsageError(`--iface: "${text}" is not a valid interface name (1-15 of A-Z a-z 0-9 _ . -)`);
  }
  return text;
}

/** Go's strconv.ParseBool forms, so `--health-insecure-skip-verify=false` and `CARE_RUN_ONCE=1` work. */
export function parseBool(value: boolean | string, flag: string): boolean {
  if (typeof value === "boolean") return value;
  switch (value.trim()) {
    case "1":
    case "t":
    case "T":
    case "true":
    case "TRUE":
    case "True":
      return true;
    case "0":
    case "f":
    case "F":
    case "false":
    case "FALSE":
    case "False":
      return false;
    default:
      throw new UsageError(`${flag}: "${value}" is not true or false`);
  }
}

function parseDurationFlag(text: string, flag: string): number {
  const ms = parseDurationMs(text);
  if (typeof ms === "string") throw new UsageError(`${flag}: ${ms}`);
  if (ms <= 0) throw new UsageError(`${flag}: must be greater than zero`);
  return ms;
}

function parseIntInRange(text: string, flag: string, min: number, max: number): number {
  const value = text.trim();
  if (!/^-?[0-9]+$/.test(value)) throw new UsageError(`${flag}: "${text}" is not an integer`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`${flag}: ${n} is outside ${min}..${max}`);
  return n;
}

function parseChoice<T extends string>(text: string, flag: string, choices: readonly T[]): T {
  const found = choices.find((choice) => choice === text);
  if (found === undefined) throw new UsageError(`${flag}: "${text}" is not one of ${choices.join(", ")}`);
  return found;
}

function parseStatusCodes(values: readonly string[]): number[] {
  const codes: number[] = [];
  for (const value of values) {
    for (const part of value.split(",")) {
      const code = parseIntInRange(part, "--health-status", 100, 599);
      if (!codes.includes(code)) codes.push(code);
    }
  }
  return codes;
}

function parseHeaders(values: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const value of values) {
    for (const pair of splitCsv(value, "--health-req-headers")) {
      const eq = pair.indexOf("=");
      if (eq <= 0) throw new UsageError(`--health-req-headers: "${pair}" is not key=value`);
      const name = pair.slice(0, eq).trim();
      const headerValue = pair.slice(eq + 1);
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
        throw new UsageError(`--health-req-headers: "${name}" is not a valid header name`);
      }
      if (/[\r\n\0]/.test(headerValue)) {
        throw new UsageError(`--health-req-headers: the value of "${name}" contains a line break`);
      }
      headers[name] = headerValue;
    }
  }
  return headers;
}

/**
 * Splits a comma list the way pflag's stringToString does (CSV: `"a=b,c",d=e` is two fields), so
 * a header value containing a comma can be quoted.
 */
function splitCsv(text: string, flag: string): string[] {
  const fields: string[] = [];
  let i = 0;
  while (i <= text.length) {
    if (text[i] === '"') {
      let field = "";
      i++;
      for (;;) {
        if (i >= text.length) throw new UsageError(`${flag}: unterminated quote in "${text}"`);
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += text[i];
        i++;
      }
      if (i < text.length && text[i] !== ",") throw new UsageError(`${flag}: text after a closing quote in "${text}"`);
      fields.push(field);
      i++;
    } else {
      const comma = text.indexOf(",", i);
      const end = comma < 0 ? text.length : comma;
      const field = text.slice(i, end);
      if (field.trim() !== "") fields.push(field);
      i = end + 1;
    }
  }
  return fields;
}
