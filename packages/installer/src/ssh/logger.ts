/**
 * The installer's log: one line per event, prefixed with the host it is about
 * (`[192.168.0.2] kubeadm join ...`), or pino JSON lines with `--log-format json`
 * (`{"level":"info","time":"...","host":"192.168.0.2","msg":"..."}`). Every message passes
 * through the Redactor before it is formatted, whatever the format.
 */
import { pino, type Logger } from "pino";
import { Redactor } from "./redact.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "plain" | "json";
export const LOG_FORMATS: readonly LogFormat[] = ["plain", "json"];

export interface LogFields {
  /** The host the event is about (its address as given). */
  readonly host?: string;
  /** The step or phase, when the event belongs to one. */
  readonly step?: string;
}

export interface SealLogger {
  readonly format: LogFormat;
  readonly redactor: Redactor;
  log(level: LogLevel, message: string, fields?: LogFields): void;
  isEnabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  readonly format?: LogFormat;
  /** Lowest level written; default info. */
  readonly level?: LogLevel;
  /** Where lines go; default stderr (stdout stays for a command's own output, e.g. --json). */
  readonly destination?: { write(line: string): unknown };
  readonly redactor?: Redactor;
}

const ORDER: Record<LogLevel, number> = { debug: 20, info: 30, warn: 40, error: 50 };

export function createLogger(options: LoggerOptions = {}): SealLogger {
  const format = options.format ?? "plain";
  const minimum = ORDER[options.level ?? "info"];
  const redactor = options.redactor ?? new Redactor();
  const sink = options.destination ?? process.stderr;
  const json: Logger | undefined =
    format === "json"
      ? pino(
          {
            level: options.level ?? "info",
            base: undefined,
            timestamp: pino.stdTimeFunctions.isoTime,
            formatters: { level: (label) => ({ level: label }) },
          },
          { write: (line: string) => void sink.write(line) },
        )
      : undefined;
  return {
    format,
    redactor,
    isEnabled: (level) => ORDER[level] >= minimum,
    log(level, message, fields = {}) {
      if (ORDER[level] < minimum) return;
      const text = redactor.redact(message);
      if (json !== undefined) {
        json[level]({ ...(fields.host === undefined ? {} : { host: fields.host }), ...(fields.step === undefined ? {} : { step: fields.step }) }, text);
        return;
      }
      const prefix = fields.host === undefined ? "" : `[${fields.host}] `;
      const marker = level === "warn" ? "warning: " : level === "error" ? "error: " : "";
      for (const line of text.split("\n")) sink.write(`${prefix}${marker}${line}\n`);
    },
  };
}
