/**
 * Bad input from the command line, the environment or an API caller. The CLI prints its message as
 * one line on stderr and exits with code 2, before anything on the host is touched.
 */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
