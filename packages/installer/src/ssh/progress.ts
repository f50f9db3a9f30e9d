/**
 * What the user watches while seal works on many hosts. The lifecycle code reports phases
 * ("join workers") over hosts and, per host, the step it is on; the reporter shows it: a live
 * list with one line per host on a terminal (listr2), plain prefixed lines otherwise, or JSON
 * lines with `--log-format json`.
 */
import { Listr, ListrLogger, ProcessOutput, type ListrTaskWrapper } from "listr2";
import type { SealLogger } from "./logger.ts";

export interface HostProgress {
  /** What the host is doing now. */
  step(text: string): void;
  succeed(text?: string): void;
  fail(message: string): void;
  skip(reason: string): void;
}

export interface PhaseProgress {
  host(address: string): HostProgress;
  /** Resolves once every host of the phase has finished and the view is final; a host never finished is shown failed. */
  end(): Promise<void>;
}

export interface ProgressReporter {
  phase(title: string, hosts: readonly string[]): PhaseProgress;
}

export interface ProgressOptions {
  readonly logger: SealLogger;
  /** Draw the live view here; default: stderr if it is a terminal and the log format is plain. */
  readonly terminal?: NodeJS.WriteStream | undefined;
}

export function createProgressReporter(options: ProgressOptions): ProgressReporter {
  const terminal = options.terminal ?? (process.stderr.isTTY && options.logger.format === "plain" ? process.stderr : undefined);
  return terminal === undefined ? new LogProgressReporter(options.logger) : new LiveProgressReporter(terminal);
}

/** Plain or JSON lines through the logger: `[192.168.0.2] kubeadm join`, `[192.168.0.2] done`. */
export class LogProgressReporter implements ProgressReporter {
  readonly #logger: SealLogger;

  constructor(logger: SealLogger) {
    this.#logger = logger;
  }

  phase(title: string, hosts: readonly string[]): PhaseProgress {
    const logger = this.#logger;
    logger.log("info", `${title} (${hosts.length} host${hosts.length === 1 ? "" : "s"})`, { step: title });
    const finished = new Set<string>();
    const fields = (host: string) => ({ host, step: title });
    // The first outcome of a host counts; later ones (forEach's own "done") are dropped.
    const finish = (address: string, level: "info" | "error", text: string) => {
      if (finished.has(address)) return;
      finished.add(address);
      logger.log(level, text, fields(address));
    };
    return {
      host(address) {
        return {
          step: (text) => {
            if (!finished.has(address)) logger.log("info", text, fields(address));
          },
          succeed: (text) => finish(address, "info", text === undefined ? "done" : `done: ${text}`),
          fail: (message) => finish(address, "error", `failed: ${message}`),
          skip: (reason) => finish(address, "info", `skipped: ${reason}`),
        };
      },
      async end() {
        for (const host of hosts) finish(host, "error", "failed: did not finish");
      },
    };
  }
}

type Outcome = { readonly kind: "succeed" | "skip"; readonly text: string } | { readonly kind: "fail"; readonly text: string };

/**
 * One live line per host. Events may arrive before listr2 has started the host's task, so each
 * host keeps its latest state and hands it over when the task attaches.
 */
class LiveHost implements HostProgress {
  readonly #address: string;
  #current: string | undefined;
  #outcome: Outcome | undefined;
  #task: ListrTaskWrapper<unknown, never, never> | undefined;
  #settle: ((outcome: Outcome) => void) | undefined;

  constructor(address: string) {
    this.#address = address;
  }

  attach(task: ListrTaskWrapper<unknown, never, never>): Promise<void> {
    this.#task = task;
    this.#render();
    return new Promise((resolve, reject) => {
      const apply = (outcome: Outcome) => {
        if (outcome.kind === "fail") return reject(new Error(`${this.#address}: ${outcome.text}`));
        if (outcome.kind === "skip") task.skip(`${this.#address}: ${outcome.text}`);
        else task.title = `${this.#address}  ${outcome.text}`;
        resolve();
      };
      if (this.#outcome !== undefined) apply(this.#outcome);
      else this.#settle = apply;
    });
  }

  #render(): void {
    if (this.#task !== undefined && this.#outcome === undefined) this.#task.title = this.#current === undefined ? this.#address : `${this.#address}  ${this.#current}`;
  }

  #finish(outcome: Outcome): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = outcome;
    this.#settle?.(outcome);
  }

  step(text: string): void {
    this.#current = text;
    this.#render();
  }

  succeed(text?: string): void {
    this.#finish({ kind: "succeed", text: text ?? "done" });
  }

  fail(message: string): void {
    this.#finish({ kind: "fail", text: message });
  }

  skip(reason: string): void {
    this.#finish({ kind: "skip", text: reason });
  }

  abandon(): void {
    this.#finish({ kind: "fail", text: "did not finish" });
  }
}

export class LiveProgressReporter implements ProgressReporter {
  readonly #terminal: NodeJS.WriteStream;

  constructor(terminal: NodeJS.WriteStream) {
    this.#terminal = terminal;
  }

  phase(title: string, hosts: readonly string[]): PhaseProgress {
    const live = new Map(hosts.map((address) => [address, new LiveHost(address)]));
    const listr = new Listr(
      [
        {
          title,
          task: (_context, task) =>
            task.newListr(
              [...live.values()].map((host, index) => ({ title: hosts[index] ?? "", task: (_: unknown, hostTask: ListrTaskWrapper<unknown, never, never>) => host.attach(hostTask) })),
              { concurrent: true, exitOnError: false },
            ),
        },
      ],
      {
        exitOnError: false,
        registerSignalListeners: false,
        forceTTY: true,
        rendererOptions: {
          collapseSubtasks: false,
          collapseErrors: false,
          // Drawn on our terminal stream (stderr by default), so stdout stays for a command's data.
          logger: new ListrLogger({ useIcons: true, toStderr: [], processOutput: new ProcessOutput(this.#terminal, this.#terminal) }),
        },
      },
    );
    const running = listr.run().then(
      () => undefined,
      () => undefined, // failures are shown in the view and returned by whoever reported them
    );
    return {
      host(address) {
        const host = live.get(address);
        if (host === undefined) throw new Error(`${address} is not a host of the phase "${title}"`);
        return host;
      },
      async end() {
        for (const host of live.values()) host.abandon();
        await running;
      },
    };
  }
}
