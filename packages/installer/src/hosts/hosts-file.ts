/**
 * Edits /etc/hosts text through a block between two marker comments. Everything outside the
 * block is kept byte for byte (comments, blank lines, tabs, CRLF, several names per line, a last
 * line without newline); inside, one `IP NAME` line per managed name. Pure text in, text out:
 * the same functions serve local files and, over SSH, remote ones.
 */
import { InputError } from "../errors.ts";
import { hostsLineFields } from "@lvscare/contracts/hosts";
import { formatIp, parseIp } from "@lvscare/contracts/ip";

export const BLOCK_BEGIN = "# BEGIN seal managed hosts (written by `seal hosts`; edit with it, not by hand)";
export const BLOCK_END = "# END seal managed hosts";
const BEGIN_PREFIX = "# BEGIN seal managed hosts";

export interface HostsEntry {
  readonly name: string;
  readonly ip: string;
}

/** A managed name that a line outside the block also defines. */
export interface HostsConflict {
  readonly name: string;
  /** 1-based line number in the new text. */
  readonly line: number;
  readonly ip: string;
  /** True when that line gives the same address (harmless duplicate). */
  readonly sameAddress: boolean;
  /** True when the line comes before the block: resolvers take the first match, so it wins. */
  readonly userLineWins: boolean;
}

export interface HostsEditResult {
  readonly text: string;
  readonly changed: boolean;
  readonly conflicts: readonly HostsConflict[];
}

interface Line {
  readonly text: string;
  readonly eol: "" | "\n" | "\r\n";
}

interface ParsedHosts {
  readonly lines: Line[];
  /** Index of the BEGIN and END lines, when the block exists. */
  readonly block: { readonly begin: number; readonly end: number } | undefined;
}

function splitLines(text: string): Line[] {
  const lines: Line[] = [];
  const pattern = /([^\n]*?)(\r?\n|$)/gy;
  let match: RegExpExecArray | null;
  while (pattern.lastIndex < text.length && (match = pattern.exec(text)) !== null) {
    lines.push({ text: match[1] ?? "", eol: (match[2] ?? "") as Line["eol"] });
  }
  return lines;
}

function joinLines(lines: readonly Line[]): string {
  return lines.map((line) => line.text + line.eol).join("");
}

function isBegin(line: Line): boolean {
  return line.text.trimEnd().startsWith(BEGIN_PREFIX);
}

function isEnd(line: Line): boolean {
  return line.text.trimEnd() === BLOCK_END;
}

function parse(text: string): ParsedHosts {
  const lines = splitLines(text);
  const begins = lines.flatMap((line, index) => (isBegin(line) ? [index] : []));
  const ends = lines.flatMap((line, index) => (isEnd(line) ? [index] : []));
  if (begins.length === 0 && ends.length === 0) return { lines, block: undefined };
  const [begin] = begins;
  const [end] = ends;
  if (begins.length > 1 || ends.length > 1 || begin === undefined || end === undefined || end < begin) {
    throw new InputError(
      `the seal block is damaged (${begins.length} BEGIN and ${ends.length} END markers, ` +
        `lines ${[...begins, ...ends].map((index) => index + 1).join(", ")}); repair it by hand first`,
    );
  }
  return { lines, block: { begin, end } };
}

function managedEntries(parsed: ParsedHosts): HostsEntry[] {
  if (parsed.block === undefined) return [];
  const entries: HostsEntry[] = [];
  for (const line of parsed.lines.slice(parsed.block.begin + 1, parsed.block.end)) {
    const fields = hostsLineFields(line.text);
    if (fields === undefined) continue;
    // Hand edits may spell an address differently; the block is rewritten canonical.
    const ip = parseIp(fields.address);
    for (const name of fields.names) entries.push({ name, ip: ip === undefined ? fields.address : formatIp(ip) });
  }
  return entries;
}

/** The entries inside the managed block, in file order. */
export function readManagedEntries(text: string): HostsEntry[] {
  return managedEntries(parse(text));
}

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*$/;

function checkName(name: string): string {
  if (!HOST_NAME.test(name)) throw new InputError(`"${name}" is not a host name`);
  return name;
}

function checkEntry(entry: HostsEntry): HostsEntry {
  const ip = parseIp(entry.ip);
  if (ip === undefined) throw new InputError(`"${entry.ip}" (for ${entry.name}) is not an IP address`);
  return { name: checkName(entry.name), ip: formatIp(ip) };
}

function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** Adds or updates entries; names compare case-insensitively, as resolvers do. */
export function setHostsEntries(text: string, entries: readonly HostsEntry[]): HostsEditResult {
  const wanted: HostsEntry[] = [];
  for (const entry of entries.map(checkEntry)) {
    const previous = wanted.find((seen) => sameName(seen.name, entry.name));
    if (previous !== undefined && previous.ip !== entry.ip) {
      throw new InputError(`${entry.name} is given two addresses (${previous.ip} and ${entry.ip})`);
    }
    if (previous === undefined) wanted.push(entry);
  }
  const parsed = parse(text);
  const current = managedEntries(parsed);
  const next = current.map((entry) => wanted.find((want) => sameName(want.name, entry.name)) ?? entry);
  for (const want of wanted) if (!next.some((entry) => sameName(entry.name, want.name))) next.push(want);
  return rewrite(text, parsed, next);
}

export function removeHostsEntries(text: string, names: readonly string[]): HostsEditResult {
  names.forEach(checkName);
  const parsed = parse(text);
  const next = managedEntries(parsed).filter((entry) => !names.some((name) => sameName(name, entry.name)));
  return rewrite(text, parsed, next);
}

function preferredEol(lines: readonly Line[]): "\n" | "\r\n" {
  return lines.find((line) => line.eol !== "")?.eol === "\r\n" ? "\r\n" : "\n";
}

function rewrite(original: string, parsed: ParsedHosts, entries: readonly HostsEntry[]): HostsEditResult {
  const eol = preferredEol(parsed.lines);
  const blockLines = (last: Line["eol"]): Line[] => [
    { text: BLOCK_BEGIN, eol },
    ...entries.map((entry) => ({ text: `${entry.ip} ${entry.name}`, eol })),
    { text: BLOCK_END, eol: last },
  ];
  let lines: Line[];
  if (parsed.block !== undefined) {
    const { begin, end } = parsed.block;
    const before = parsed.lines.slice(0, begin);
    const after = parsed.lines.slice(end + 1);
    const endEol = parsed.lines[end]?.eol ?? eol;
    if (entries.length > 0) {
      lines = [...before, ...blockLines(endEol), ...after];
    } else {
      // A block appended after an unterminated last line took over its missing newline (see
      // below); give it back so removing the block restores the file exactly. (An empty line
      // cannot have been unterminated, so it keeps its newline.)
      const last = before.at(-1);
      const giveBack = after.length === 0 && endEol === "" && last !== undefined && last.text !== "";
      lines = giveBack ? [...before.slice(0, -1), { ...last, eol: "" }] : [...before, ...after];
    }
  } else if (entries.length > 0) {
    const last = parsed.lines.at(-1);
    if (last === undefined) {
      lines = blockLines(eol);
    } else if (last.eol === "") {
      lines = [...parsed.lines.slice(0, -1), { ...last, eol }, ...blockLines("")];
    } else {
      lines = [...parsed.lines, ...blockLines(eol)];
    }
  } else {
    lines = parsed.lines;
  }
  const text = joinLines(lines);
  return { text, changed: text !== original, conflicts: findConflicts(text) };
}

function findConflicts(text: string): HostsConflict[] {
  const parsed = parse(text);
  const managed = managedEntries(parsed);
  const conflicts: HostsConflict[] = [];
  parsed.lines.forEach((line, index) => {
    if (parsed.block !== undefined && index >= parsed.block.begin && index <= parsed.block.end) return;
    const fields = hostsLineFields(line.text);
    if (fields === undefined) return;
    const lineNames = fields.names.filter((name, i) => fields.names.findIndex((other) => sameName(other, name)) === i);
    for (const name of lineNames) {
      const entry = managed.find((candidate) => sameName(candidate.name, name));
      if (entry === undefined) continue;
      const ip = parseIp(fields.address);
      const sameAddress = ip !== undefined && formatIp(ip) === entry.ip;
      const userLineWins = parsed.block === undefined || index < parsed.block.begin;
      conflicts.push({ name: entry.name, line: index + 1, ip: fields.address, sameAddress, userLineWins });
    }
  });
  return conflicts;
}

/** One line per conflict, for warnings: users must know when their own line wins. */
export function describeConflict(conflict: HostsConflict, file: string): string {
  const where = `${file}:${conflict.line} maps ${conflict.name} to ${conflict.ip}`;
  if (conflict.sameAddress) return `${where} too (same address, harmless duplicate)`;
  return conflict.userLineWins
    ? `${where}; that line comes before the seal block and wins: the managed entry has no effect until it is removed`
    : `${where}; the seal block comes first and wins over that line`;
}
