/**
 * The nftables dataplane engine (package subpath "@lvscare/lvscare/nftables"): what the daemon's
 * Dataplane adapter, the tests and the benchmarks use. Layout and choices: README.md here.
 */
export { NftablesBackend, type NftablesBackendOptions, type NftApplyResult, type NftFamilyRead, type NftTableStatus } from "./backend.ts";
export {
  TABLE,
  type NftDesiredState,
  type NftDestination,
  type NftFamily,
  type NftFamilyState,
  type NftVirtualServer,
  type RemovedDestination,
  emptyFamilyState,
  identicalFamilyState,
  nftFamily,
  normalizeFamilyState,
  sameFamilyState,
} from "./model.ts";
export type { Scheduler } from "../../config.ts";
export { CHAINS, type ChainSpec, rulesetOf } from "./ruleset.ts";
export { isRotating, SCHEDULER_MEANING, slotsFor } from "./schedule.ts";
export { joinTransaction, renderTableDeletion, renderTableReplacement } from "./render-script.ts";
export { expectedListing } from "./render-listing.ts";
export { parseTable, type ParsedTable } from "./parse.ts";
export { withRemovals } from "./removal.ts";
export { nftFailure, parseNftErrors, type NftErrorLine } from "./nft-errors.ts";
export { type NftRunner, type NftRunnerOptions, type NftRunOptions, NftProcessLostError, DEFAULT_TIMEOUT_MS } from "./runner.ts";
export { nftCommandTimeoutFor } from "./timeouts.ts";
export { isNextGeneration, type NftChangeCheck, openGenerationCheck } from "./change-check.ts";
export { ExecNftRunner } from "./runner-exec.ts";
export { InteractiveNftRunner, type InteractiveNftRunnerOptions } from "./runner-interactive.ts";
/** The IPVS dataplane's link-mode table, which shares our table's name (tests of the hand-over). */
export { nftScript as ipvsLinkModeTableScript } from "../kernel-masquerade.ts";
export { applyOps, NFTABLES_CAPABILITIES, type NftDestinationSpec, type NftOp, NftOpRefused, type NftVirtualServerSpec } from "./editor.ts";
