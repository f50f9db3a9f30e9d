/**
 * nft's error output, made into one clear line. nft prints each error as
 *   [/dev/stdin:1:5-9: ]Error: <message>
 *   <the input line>
 *   <spaces>^^^^^          (marks the offending part; in `nft -i` sometimes without a newline)
 * Our input is one long line holding the whole transaction, so the message names the one
 * command (between `;`) that was marked, not the whole line.
 */
import { DataplaneError } from "../error.ts";

export interface NftErrorLine {
  readonly message: string;
  /** The command of the input the error points at, shortened; undefined when nft showed none. */
  readonly command: string | undefined;
}

const ERROR_LINE = /^(?:\S+?:\d+:\d+(?:-\d+)?: )?Error: (.*)$/;
const CARET_LINE = /^[ \t]*\^[\^~]*[ \t]*$/;
const MAX_COMMAND = 160;

function commandAt(input: string, start: number, end: number): string {
  const from = input.lastIndexOf(";", start) + 1;
  const semicolon = input.indexOf(";", Math.max(end, start + 1));
  const command = input.slice(from, semicolon < 0 ? input.length : semicolon).trim();
  return command.length > MAX_COMMAND ? `${command.slice(0, MAX_COMMAND - 3)}...` : command;
}

export function parseNftErrors(stderr: string): NftErrorLine[] {
  // A caret line without its newline runs straight into the next "Error:".
  const lines = stderr.replace(/(\^[\^~]*)(?=[^\n^~])/g, "$1\n").split("\n");
  const errors: NftErrorLine[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const m = ERROR_LINE.exec(lines[i] as string);
    if (m === null) continue;
    const input = lines[i + 1];
    const carets = lines[i + 2];
    let command: string | undefined;
    if (input !== undefined && carets !== undefined && CARET_LINE.test(carets)) {
      const start = carets.search(/[\^~]/);
      command = commandAt(input, start, carets.trimEnd().length);
      i += 2;
    }
    errors.push({ message: (m[1] as string).trim(), command });
  }
  return errors;
}

const ERRNO_BY_TEXT: ReadonlyArray<readonly [RegExp, string]> = [
  [/No such file or directory/, "ENOENT"],
  [/File exists/, "EEXIST"],
  [/Operation not permitted/, "EPERM"],
  [/Operation not supported/, "EOPNOTSUPP"],
  [/Protocol not supported|Address family not supported/, "EAFNOSUPPORT"],
  [/Device or resource busy/, "EBUSY"],
  [/Cannot allocate memory/, "ENOMEM"],
  [/Invalid argument|syntax error/, "EINVAL"],
];

/** The errno name a message stands for (LC_ALL=C is set for nft), EIO when unknown. */
export function errnoOf(message: string): string {
  return ERRNO_BY_TEXT.find(([pattern]) => pattern.test(message))?.[1] ?? "EIO";
}

/** A DataplaneError for a failed nft command, from its stderr. */
export function nftFailure(operation: string, stderr: string, fallback: string): DataplaneError {
  const errors = parseNftErrors(stderr);
  const first = errors[0];
  if (first === undefined) {
    const text = stderr.trim().split("\n")[0] ?? "";
    return new DataplaneError(operation, "EIO", `nft failed: ${text === "" ? fallback : text}`);
  }
  // The first error is the cause; a syntax error makes nft report every later command of the line too.
  const described = first.command === undefined ? first.message : `${first.message} (in: ${first.command})`;
  const more = errors.length > 1 ? ` (+${errors.length - 1} more)` : "";
  return new DataplaneError(operation, errnoOf(first.message), `nft refused it, nothing was changed: ${described}${more}`);
}
