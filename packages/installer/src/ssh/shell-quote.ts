/**
 * The one place where an argv becomes a command line for a remote POSIX shell. sshd hands the
 * exec request's string to the user's login shell (`sh -c STRING`), so every element is quoted
 * here and nowhere else: the command runs with exactly these arguments, whatever they contain.
 */

export class ArgvError extends Error {
  override readonly name = "ArgvError";
}

/**
 * Rejects what no quoting can carry: a NUL byte ends a C string, so the remote program would
 * see a shorter argument than we sent. Everything else (newlines, quotes, `$(...)`) is quoted.
 */
export function checkArgv(argv: readonly string[]): void {
  if (!Array.isArray(argv) || argv.length === 0) throw new ArgvError("a remote command needs at least the program name");
  for (const [index, element] of argv.entries()) {
    if (typeof element !== "string") throw new ArgvError(`argument ${index} of a remote command is not a string`);
    if (element.includes("\0")) throw new ArgvError(`argument ${index} of a remote command contains a NUL byte`);
  }
  if (argv[0] === "") throw new ArgvError("a remote command's program name is empty");
}

// No `=` (a first word `A=b` is an assignment), no `~`, `*`, `?`, `[`, `{`, `!`, `#`: only bytes that
// no POSIX shell (nor bash in any mode) treats specially anywhere in a word.
const SAFE = /^[A-Za-z0-9_@+:,./-]+$/;

/**
 * POSIX single-quoting: inside '...' every byte is literal except `'` itself, which is written
 * as `'\''` (close, escaped quote, reopen). Plain words are left bare so logs stay readable.
 */
export function quoteShellArg(value: string): string {
  if (value.includes("\0")) throw new ArgvError("an argument contains a NUL byte");
  if (SAFE.test(value)) return value;
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** The command line that makes a POSIX shell run `argv` as given. */
export function shellCommand(argv: readonly string[]): string {
  checkArgv(argv);
  return argv.map(quoteShellArg).join(" ");
}
