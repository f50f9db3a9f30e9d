/**
 * Property tests of the hosts editor over generated files: comments, blank and whitespace-only
 * lines, tabs, several names per line, inline comments, LF, CRLF or a mix, with or without a
 * final newline, with or without an existing block, and random sequences of set/remove.
 * A failing case prints its seed; SEAL_PROPERTY_SEED replays a run.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatIp, parseIp } from "@lvscare/contracts/ip";
import { BLOCK_BEGIN, BLOCK_END, readManagedEntries, removeHostsEntries, setHostsEntries, type HostsEntry } from "../src/hosts/hosts-file.ts";
import { SeededRandom } from "./helpers/seeded-random.ts";

const BASE_SEED = Number(process.env["SEAL_PROPERTY_SEED"] ?? 20260401);
const FILES = 400;
const MANAGED_NAMES = ["apiserver.cluster.local", "lvscare.node.ip", "sealos.hub", "Node-A", "db_1"];
const USER_NAMES = ["localhost", "ip6-localhost", "node-1", "node-1.example", "mirror", "printer.lan", ...MANAGED_NAMES];

function address(random: SeededRandom): string {
  return random.chance(0.8)
    ? `10.${random.int(0, 255)}.${random.int(0, 255)}.${random.int(1, 254)}`
    : random.pick(["::1", "fd00::10", "FD00:0:0::1", "2001:db8::a:b"]);
}

function whitespace(random: SeededRandom): string {
  return random.pick([" ", "\t", "  ", " \t ", "\t\t"]);
}

function userLine(random: SeededRandom): string {
  switch (random.int(0, 5)) {
    case 0:
      return "";
    case 1:
      return random.pick(["   ", "\t", " \t"]);
    case 2:
      return random.pick(["# comment", "#", "  # indented comment with apiserver.cluster.local", "#10.0.0.1 commented.out"]);
    default: {
      const names = Array.from({ length: random.int(1, 4) }, () => random.pick(USER_NAMES));
      const body = [address(random), ...names].join(whitespace(random));
      const lead = random.chance(0.2) ? whitespace(random) : "";
      const tail = random.chance(0.3) ? `${whitespace(random)}# note ${random.pick(MANAGED_NAMES)}` : random.chance(0.1) ? " " : "";
      return lead + body + tail;
    }
  }
}

function managedEntry(random: SeededRandom): HostsEntry {
  return { name: random.pick(MANAGED_NAMES), ip: address(random) };
}

interface Generated {
  text: string;
  /** Entries of the block the file starts with (none when it has no block). */
  initial: HostsEntry[];
}

function generateFile(random: SeededRandom): Generated {
  const eolMode = random.pick(["lf", "crlf", "mixed"] as const);
  const eol = () => (eolMode === "lf" ? "\n" : eolMode === "crlf" ? "\r\n" : random.pick(["\n", "\r\n"]));
  const lines = Array.from({ length: random.int(0, 12) }, () => userLine(random));
  let initial: HostsEntry[] = [];
  if (random.chance(0.3)) {
    const at = random.int(0, lines.length);
    const entries = Array.from({ length: random.int(1, 3) }, () => managedEntry(random));
    const unique = entries.filter((entry, index) => entries.findIndex((other) => other.name.toLowerCase() === entry.name.toLowerCase()) === index);
    initial = unique.map((entry) => ({ name: entry.name, ip: formatIp(parseIp(entry.ip) ?? { family: 4, value: 0n }) }));
    lines.splice(at, 0, BLOCK_BEGIN, ...unique.map((entry) => `${entry.ip}${whitespace(random)}${entry.name}`), BLOCK_END);
  }
  let text = lines.map((line) => line + eol()).join("");
  if (lines.length > 0 && random.chance(0.4)) text = text.replace(/\r?\n$/, "");
  return { text, initial };
}

/** Lines (with endings) outside the block, in order. */
function outsideLines(text: string): string[] {
  const lines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  const begin = lines.findIndex((line) => line.startsWith(BLOCK_BEGIN));
  const end = lines.findIndex((line) => line.replace(/\r?\n$/, "") === BLOCK_END);
  return begin < 0 ? lines : [...lines.slice(0, begin), ...lines.slice(end + 1)];
}

/** User lines (outside the block) that map one of `names`, found with a plain tokenizer. */
function expectedConflicts(text: string, names: readonly string[]): { line: number; name: string }[] {
  const lines = text.split("\n");
  const begin = lines.findIndex((line) => line.startsWith(BLOCK_BEGIN));
  const end = lines.findIndex((line) => line.replace(/\r$/, "") === BLOCK_END);
  const found: { line: number; name: string }[] = [];
  lines.forEach((line, index) => {
    if (begin >= 0 && index >= begin && index <= end) return;
    const tokens = (line.split("#")[0] ?? "").trim().split(/[ \t]+/).slice(1);
    for (const name of names) if (tokens.some((token) => token.toLowerCase() === name.toLowerCase())) found.push({ line: index + 1, name });
  });
  return found;
}

type Model = Map<string, HostsEntry>;

function modelAfterSet(model: Model, entries: HostsEntry[]): Model {
  const next = new Map(model);
  for (const entry of entries) next.set(entry.name.toLowerCase(), { name: entry.name, ip: formatIp(parseIp(entry.ip) ?? { family: 4, value: 0n }) });
  return next;
}

describe("hosts editor properties", () => {
  it(`holds on ${FILES} generated files (seed ${BASE_SEED})`, () => {
    for (let index = 0; index < FILES; index++) {
      const seed = BASE_SEED + index;
      const random = new SeededRandom(seed);
      const { text: original, initial } = generateFile(random);
      const context = `seed ${seed}, file ${JSON.stringify(original)}`;
      // What the file is without any managed entry: the reference for "outside lines unchanged".
      const bare = initial.length > 0 ? removeHostsEntries(original, initial.map((entry) => entry.name)).text : original;

      let text = original;
      let model: Model = new Map(initial.map((entry) => [entry.name.toLowerCase(), entry]));
      for (let step = 0; step < random.int(1, 5); step++) {
        const remove = model.size > 0 && random.chance(0.35);
        let result;
        if (remove) {
          const names = Array.from({ length: random.int(1, 2) }, () => random.pick([...MANAGED_NAMES, "never-set"]));
          result = removeHostsEntries(text, names);
          model = new Map([...model].filter(([key]) => !names.some((name) => name.toLowerCase() === key)));
          assert.equal(removeHostsEntries(result.text, names).changed, false, `remove is idempotent: ${context}`);
        } else {
          const wanted = Array.from({ length: random.int(1, 3) }, () => managedEntry(random));
          const entries = wanted.filter((entry, i) => wanted.findIndex((other) => other.name.toLowerCase() === entry.name.toLowerCase()) === i);
          result = setHostsEntries(text, entries);
          model = modelAfterSet(model, entries);
          const again = setHostsEntries(result.text, entries);
          assert.equal(again.changed, false, `set is idempotent: ${context}`);
          assert.equal(again.text, result.text, context);
        }
        text = result.text;

        // The block holds exactly the model, one canonical `IP NAME` line each.
        assert.deepEqual(
          readManagedEntries(text).map((entry) => `${entry.name.toLowerCase()}=${entry.ip}`).sort(),
          [...model.values()].map((entry) => `${entry.name.toLowerCase()}=${entry.ip}`).sort(),
          context,
        );
        // Everything outside the block is the original file's, in order, byte for byte, except
        // that an unterminated last line followed by a new block gains its newline.
        const outside = outsideLines(text);
        const reference = outsideLines(bare);
        assert.equal(outside.length, reference.length, context);
        outside.forEach((line, i) => {
          const expected = reference[i] ?? "";
          assert.ok(line === expected || (i === reference.length - 1 && !/\n$/.test(expected) && line.replace(/\r?\n$/, "") === expected), `${context}: line ${i}`);
        });
        // Whether the file ends with a newline never changes: as the original while a block is
        // there, as the block-less original when it is gone (a file of nothing but the block
        // aside: once empty, a new block is written with newlines).
        const endingReference = text.includes(BLOCK_BEGIN) ? original : bare;
        if (bare !== "") assert.equal(/\n$/.test(text), /\n$/.test(endingReference), context);
        // Conflicts are exactly the user lines naming a managed name.
        const managedNames = [...model.values()].map((entry) => entry.name);
        assert.deepEqual(
          result.conflicts.map((conflict) => `${conflict.line}:${conflict.name.toLowerCase()}`).sort(),
          expectedConflicts(text, managedNames).map((found) => `${found.line}:${found.name.toLowerCase()}`).sort(),
          context,
        );
      }
      // Removing every managed name gives back the file without a block, byte for byte.
      const cleared = removeHostsEntries(text, MANAGED_NAMES).text;
      assert.equal(cleared, bare, `${context} after ${JSON.stringify(text)}`);
    }
  });
});
