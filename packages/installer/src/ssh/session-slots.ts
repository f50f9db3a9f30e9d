/**
 * A host's session channels: at most `limit` open at once (sshd's MaxSessions, 10 by default,
 * refuses the next one). Callers beyond the limit wait in line instead of failing. When a server
 * turns out to allow fewer than we assumed, the limit drops to what it accepted.
 */
export class SessionSlots {
  #limit: number;
  #inUse = 0;
  readonly #waiting: (() => void)[] = [];
  readonly #releaseWatchers = new Set<() => void>();

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`session limit must be a positive integer, got ${limit}`);
    this.#limit = limit;
  }

  get limit(): number {
    return this.#limit;
  }

  get inUse(): number {
    return this.#inUse;
  }

  acquire(): Promise<void> {
    if (this.#inUse < this.#limit) {
      this.#inUse++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    for (const watcher of this.#releaseWatchers) watcher();
    this.#releaseWatchers.clear();
    const next = this.#inUse <= this.#limit ? this.#waiting.shift() : undefined;
    if (next !== undefined) {
      next(); // the slot passes straight to the next in line
      return;
    }
    this.#inUse--;
  }

  /** Resolves at the next release, or after `timeoutMs`, whichever comes first. */
  nextRelease(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#releaseWatchers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#releaseWatchers.add(done);
    });
  }

  /** The server refused a session while `inUse` others were open: that is its real limit. */
  lowerTo(limit: number): void {
    this.#limit = Math.max(1, Math.min(this.#limit, limit));
  }
}
