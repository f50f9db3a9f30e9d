/**
 * Secrets never reach a log line or an error message: every text we print about a host goes
 * through one Redactor, which knows the session's secrets (passwords, passphrases, private keys)
 * and recognises kubeadm bootstrap tokens and PEM private keys by their shape.
 */

export const REDACTED = "[REDACTED]";

// kubeadm's token format (bootstraputil.BootstrapTokenPattern without the anchors).
const BOOTSTRAP_TOKEN = /\b[a-z0-9]{6}\.[a-z0-9]{16}\b/g;
const PEM_PRIVATE_KEY = /-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?(-----END ([A-Z0-9]+ )*PRIVATE KEY-----|$)/g;

export class Redactor {
  readonly #secrets = new Set<string>();

  constructor(secrets: Iterable<string | undefined> = []) {
    for (const secret of secrets) this.add(secret);
  }

  /** Registers a secret; it and every line of it (for multi-line secrets) are masked from now on. */
  add(secret: string | undefined): void {
    if (secret === undefined || secret.length === 0) return;
    this.#secrets.add(secret);
    for (const line of secret.split(/\r?\n/)) {
      // Single short lines of a multi-line secret (a PEM footer) are not secret on their own.
      if (line.length >= 8 && line !== secret && !line.startsWith("-----")) this.#secrets.add(line);
    }
  }

  redact(text: string): string {
    let result = text.replace(PEM_PRIVATE_KEY, REDACTED);
    // Longest first, so a secret that contains another is masked whole.
    for (const secret of [...this.#secrets].sort((a, b) => b.length - a.length)) result = result.replaceAll(secret, REDACTED);
    return result.replace(BOOTSTRAP_TOKEN, REDACTED);
  }

  /**
   * For text that arrives line by line (command output): a PEM private key spread over several
   * lines is masked from its BEGIN line to its END line, which no single line shows whole.
   */
  lineRedactor(): (line: string) => string {
    let insideKey = false;
    return (line) => {
      if (insideKey) {
        if (/-----END ([A-Z0-9]+ )*PRIVATE KEY-----/.test(line)) insideKey = false;
        return REDACTED;
      }
      if (/-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY-----/.test(line) && !/-----END ([A-Z0-9]+ )*PRIVATE KEY-----/.test(line)) {
        insideKey = true;
        return REDACTED;
      }
      return this.redact(line);
    };
  }

  /** An Error whose message (and cause chain's messages) went through redact(). */
  redactError<E extends Error>(error: E): E {
    error.message = this.redact(error.message);
    if (error.stack !== undefined) error.stack = this.redact(error.stack);
    if (error.cause instanceof Error) this.redactError(error.cause);
    return error;
  }
}
