/**
 * Logging with pino: JSON lines, or one readable line per event (`--log-format text`, the default:
 * what `kubectl logs` readers expect). Header values from --health-req-headers may be bearer
 * tokens; they are redacted wherever they appear.
 */
import { pino, type DestinationStream, type Logger } from "pino";
import type { LogFormat, LogLevel } from "./config.ts";

export type { Logger } from "pino";

export interface LogOptions {
  readonly format: LogFormat;
  readonly level: LogLevel;
  /** Where lines go; default stdout. */
  readonly destination?: { write(line: string): unknown };
}

const LEVEL_NAMES: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
const OMITTED = new Set(["level", "time", "msg", "pid", "hostname"]);

export function createLogger(options: LogOptions): Logger {
  const sink = options.destination ?? pino.destination({ dest: 1, sync: true });
  const stream: DestinationStream =
    options.format === "json" ? { write: (line: string) => void sink.write(line) } : { write: (line: string) => void sink.write(formatTextLine(line)) };
  return pino(
    {
      level: options.level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ["headers.*", "health.headers.*", "*.authorization", "*.Authorization"], censor: "[redacted]" },
    },
    stream,
  );
}

/** `2026-05-01T10:00:00.000Z INFO  master 10.0.0.1:6443 down reason="..." ` from a pino JSON line. */
export function formatTextLine(jsonLine: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(jsonLine) as Record<string, unknown>;
  } catch {
    return jsonLine;
  }
  const level = LEVEL_NAMES[Number(record["level"])] ?? String(record["level"]);
  const parts = [String(record["time"] ?? ""), level.padEnd(5), String(record["msg"] ?? "")];
  for (const [key, value] of Object.entries(record)) {
    if (OMITTED.has(key) || value === undefined) continue;
    parts.push(`${key}=${formatValue(value)}`);
  }
  return `${parts.join(" ")}\n`;
}

function formatValue(value: unknown): string {
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (value !== null && typeof value === "object" && "message" in value && "type" in value) {
    return JSON.stringify((value as { message: unknown }).message);
  }
  return JSON.stringify(value);
}
