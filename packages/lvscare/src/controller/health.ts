/**
 * Hysteresis for one master: `fall` consecutive failures take it out, `rise` consecutive successes
 * bring it back. A master whose health is not known yet (daemon just started) goes up on its first
 * success, so a restart does not delay anything, and down only after `fall` failures, so one lost
 * packet at start-up removes nothing.
 */
export type Health = "unknown" | "up" | "down";

export interface HealthChange {
  readonly from: Health;
  readonly to: Health;
}

export class HealthTracker {
  private state: Health = "unknown";
  private successes = 0;
  private failures = 0;
  private readonly fall: number;
  private readonly rise: number;

  constructor(fall: number, rise: number) {
    this.fall = fall;
    this.rise = rise;
  }

  get health(): Health {
    return this.state;
  }

  /** Consecutive failures so far (0 after any success). */
  get failureStreak(): number {
    return this.failures;
  }

  get successStreak(): number {
    return this.successes;
  }

  recordSuccess(): HealthChange | undefined {
    this.failures = 0;
    this.successes++;
    const needed = this.state === "down" ? this.rise : 1;
    if (this.state !== "up" && this.successes >= needed) return this.moveTo("up");
    return undefined;
  }

  recordFailure(): HealthChange | undefined {
    this.successes = 0;
    this.failures++;
    if (this.state !== "down" && this.failures >= this.fall) return this.moveTo("down");
    return undefined;
  }

  private moveTo(to: Health): HealthChange {
    const change = { from: this.state, to };
    this.state = to;
    return change;
  }
}
