/** Strings built to break shell quoting: every byte a POSIX shell or bash treats specially, and more. */
import type { SeededRandom } from "./seeded-random.ts";

const PIECES = [
  "'", '"', "\\", "$", "`", "$(reboot)", "`id`", "${HOME}", "$((1+1))", "!", "!!", "#", "&", "&&", ";", "|", "||", "<", ">", ">>",
  "(", ")", "{", "}", "[", "]", "*", "?", "~", "~root", "=", "%", "^", ",", ".", "-", "--", "-n", "-e", "\n", "\r", "\t", " ", "  ",
  "\x01", "\x1b[31m", "\x7f", "é", "日本", "😀", "a", "Z", "0", "9", "_", "/", "'\\''", "\\'", "''", '""', "IFS=x", "A=b",
];

/** One argument: empty, a single piece, or several glued together. */
export function nastyString(random: SeededRandom): string {
  if (random.chance(0.05)) return "";
  return Array.from({ length: random.int(1, 6) }, () => random.pick(PIECES)).join("");
}

export function nastyArgv(random: SeededRandom, maxLength = 6): string[] {
  return Array.from({ length: random.int(1, maxLength) }, () => nastyString(random));
}
