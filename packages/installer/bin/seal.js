#!/usr/bin/env node
import { nodeVersionProblem } from "./check-node-version.js";

const problem = nodeVersionProblem(process.versions.node);
if (problem !== undefined) {
  process.stderr.write(problem + "\n");
  process.exit(1);
}
// Keeps the type-stripped, compiled sources between runs (in the OS temp dir): loading the SSH
// layer took 310-440 ms without it, 140-160 ms with it. Best effort: a failure only costs time.
(await import("node:module")).enableCompileCache?.();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
