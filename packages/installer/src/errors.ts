/**
 * An error in what the user gave us (flags, files, addresses). The CLI prints its message as one
 * line and exits 2; it is always raised before the first side effect, so nothing was written.
 */
export class InputError extends Error {
  override readonly name = "InputError";
}
