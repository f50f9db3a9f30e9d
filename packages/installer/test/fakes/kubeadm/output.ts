/** kubeadm's phase lines, each marked as the fake's. Machine-readable output goes through `print`. */
import { FakeExit } from "../lib/fake-tool.ts";

const MARK = "(FAKE kubeadm)";

export function say(phase: string, message: string): void {
  process.stdout.write(`[${phase}] ${MARK} ${message}\n`);
}

export function warn(message: string): void {
  process.stderr.write(`W ${MARK} ${message}\n`);
}

/** Exactly what the real kubeadm prints to stdout (versions, tokens, join commands). */
export function print(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}

/** kubeadm's error exit: `error: <message>` and the stack-trace hint, status 1. */
export function kubeadmError(message: string): FakeExit {
  return new FakeExit(1, `error: ${message} ${MARK}\nTo see the stack trace of this error execute with --v=5 or higher`);
}

export function phaseError(phase: string, message: string): FakeExit {
  return kubeadmError(`error execution phase ${phase}: ${message}`);
}
