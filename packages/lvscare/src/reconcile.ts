/**
 * One reconcile pass, the same for the daemon and for --run-once: read our virtual server, plan
 * the ops that close the gap (plan.ts, pure), apply them as one unit. Races with another writer
 * of the table between the read and the apply are settled here, whatever the backend.
 */
import type { Dataplane, DataplaneOp } from "./dataplane/types.ts";
import { DataplaneApplyError } from "./dataplane/error.ts";
import type { DesiredState } from "./desired-state.ts";
import { plan } from "./plan.ts";

export interface ReconcileResult {
  /** The planned ops that took effect, in order. */
  readonly applied: readonly DataplaneOp[];
  /** Destinations of our virtual server afterwards. */
  readonly destinations: number;
}

/**
 * Reads, plans and applies. `onApplied` sees each op as it is known to have taken effect, also
 * when a later one fails (the pass then rejects; the next one reads the table again).
 */
export async function reconcile(
  dataplane: Dataplane,
  desired: DesiredState,
  onApplied: (op: DataplaneOp) => void = () => undefined,
): Promise<ReconcileResult> {
  const observed = await dataplane.read(desired.virtualServer.address);
  const applied: DataplaneOp[] = [];
  await applyPlan(dataplane, plan(desired, observed), (op) => {
    applied.push(op);
    onApplied(op);
  });
  let destinations = observed?.destinations.length ?? 0;
  for (const op of applied) {
    if (op.kind === "add-destination") destinations++;
    if (op.kind === "delete-destination") destinations--;
  }
  return { applied, destinations: Math.max(0, destinations) };
}

interface Step {
  /** The op as planned, which is what onApplied reports. */
  readonly planned: DataplaneOp;
  /** What to send for it; undefined once a race has done it for us. */
  send: DataplaneOp | undefined;
}

/**
 * Applies a plan and settles races: a destination added by someone else meanwhile is updated
 * instead, one deleted meanwhile needs no quiescing or deleting. Any other refusal rejects.
 */
export async function applyPlan(dataplane: Dataplane, ops: readonly DataplaneOp[], onApplied: (op: DataplaneOp) => void): Promise<void> {
  const steps: Step[] = ops.map((op) => ({ planned: op, send: op }));
  // Each op is settled at most twice (add -> update -> gone), so this bounds the retries.
  let settles = 0;
  for (;;) {
    const sending = steps.filter((step) => step.send !== undefined);
    let failure: DataplaneApplyError | undefined;
    try {
      if (sending.length > 0) await dataplane.apply(sending.map((step) => step.send as DataplaneOp));
    } catch (err) {
      if (!(err instanceof DataplaneApplyError)) throw err;
      failure = err;
    }
    const taken = new Set(failure === undefined ? sending : sending.slice(0, failure.applied.length));
    while (steps[0] !== undefined && (steps[0].send === undefined || taken.has(steps[0]))) {
      onApplied((steps.shift() as Step).planned);
    }
    if (failure === undefined) return;
    const refused = sending[failure.failedIndex];
    const settled = refused?.send === undefined ? undefined : settleRace(refused.send, failure.code);
    if (refused === undefined || settled === undefined || ++settles > 2 * ops.length) throw failure;
    refused.send = settled === "done" ? undefined : settled;
  }
}

/** What to do instead of an op the table refused with `code`, when that refusal was a race. */
function settleRace(op: DataplaneOp, code: string): DataplaneOp | "done" | undefined {
  switch (op.kind) {
    case "add-destination":
      return code === "EEXIST" ? { ...op, kind: "update-destination" } : undefined;
    case "update-destination":
      // Quiescing a destination someone already deleted: nothing left to quiesce.
      return code === "ENOENT" && op.destination.weight === 0 ? "done" : undefined;
    case "delete-destination":
      return code === "ENOENT" ? "done" : undefined;
    default:
      return undefined;
  }
}
