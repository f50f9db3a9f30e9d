/**
 * Named steps on hosts, each recorded in the Clusterfile as one condition per host (`STEP/IP`)
 * and the phase, shared by `seal run`, `seal add` and `seal delete`: the state on disk always says
 * how far a command got, and a failure comes back as one line naming the host, the step, the
 * command's stderr tail and how to resume.
 */
import type { HostPool } from "../ssh/host-pool.ts";
import { RemoteCommandError } from "../ssh/errors.ts";
import { withStatus, type ClusterCondition, type ClusterPhase, type Clusterfile } from "../cluster-state/clusterfile.ts";
import { writeClusterfile } from "../cluster-state/state-dir.ts";

/** A failed step, told as the person woken at 3 a.m. needs it. */
export class StepFailedError extends Error {
  override readonly name = "StepFailedError";
}

export function stepFailure(host: string, step: string, error: Error, resume: string): StepFailedError {
  const tail = error instanceof RemoteCommandError ? error.stderr.trim().split("\n").slice(-5).join(" | ") : "";
  return new StepFailedError(`${host}: ${step} failed: ${error.message.split("\n")[0]}${tail === "" ? "" : ` (stderr: ${tail})`}; ${resume}`);
}

export function condition(type: string, status: ClusterCondition["status"], reason: string, message?: string): ClusterCondition {
  return { type, status, lastHeartbeatTime: new Date().toISOString(), reason, ...(message === undefined ? {} : { message }) };
}

export type HostWork = (address: string, progress: (text: string) => void) => Promise<void>;

export interface StepRunner {
  /** The Clusterfile as last written. */
  readonly file: Clusterfile;
  /** Replaces the Clusterfile's content (hosts changed) and writes it with the phase. */
  replace(file: Clusterfile, phase: ClusterPhase): void;
  record(phase: ClusterPhase, conditions: readonly ClusterCondition[]): void;
  /** Runs `work` on the hosts (in parallel up to `concurrency`); the first failure is thrown. */
  step(name: string, addresses: readonly string[], work: HostWork, concurrency?: number): Promise<void>;
}

export function createStepRunner(options: { pool: HostPool; clusterfilePath: string; file: Clusterfile; resume: string }): StepRunner {
  let file = options.file;
  const record = (phase: ClusterPhase, conditions: readonly ClusterCondition[]) => {
    file = { ...file, cluster: withStatus(file.cluster, phase, conditions) };
    writeClusterfile(options.clusterfilePath, file);
  };
  return {
    get file() {
      return file;
    },
    replace(next, phase) {
      file = next;
      record(phase, []);
    },
    record,
    async step(name, addresses, work, concurrency) {
      const results = await options.pool.forEach(addresses, async (host, progress) => {
        await work(host.address, (text) => progress.step(text));
      }, { title: name, ...(concurrency === undefined ? {} : { concurrency }) });
      const failures = results.filter((result) => !result.ok);
      record(
        failures.length > 0 ? "ClusterFailed" : "ClusterInProcess",
        results.map((result) => (result.ok ? condition(`${name}/${result.address}`, "True", "Done") : condition(`${name}/${result.address}`, "False", "Failed", result.error.message.split("\n")[0]))),
      );
      const first = failures[0];
      if (first !== undefined && !first.ok) throw stepFailure(first.address, name, first.error, options.resume);
    },
  };
}
