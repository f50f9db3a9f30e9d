/**
 * @lvscare/lvscare: the lvscare daemon as a library. The CLI (`bin/lvscare`) is the main user;
 * these exports let other packages and tests reuse its pieces.
 */
export { renderLvscareStaticPod, type LvscareStaticPodOptions, DEFAULT_STATIC_POD_NAME, LVSCARE_COMMAND } from "./static-pod.ts";
export { parseCareConfig, CARE_DEFAULTS, SCHEDULERS, type CareConfig, type RawCareOptions, type HealthCheckConfig } from "./config.ts";
export { parseEndpoint, formatEndpoint, type Endpoint, type IpFamily } from "./address.ts";
export { UsageError } from "./errors.ts";
export { CareDaemon, type CareDaemonOptions } from "./care.ts";
export { CareController, type ControllerTiming, type ControllerCommand, type HealthTransition } from "./controller/controller.ts";
export { plan } from "./plan.ts";
export { reconcile, applyPlan, type ReconcileResult } from "./reconcile.ts";
export type { DesiredState, DesiredDestination, DesiredWeight } from "./desired-state.ts";
export { runOnce, clean } from "./one-shot.ts";
export { DataplaneError, DataplaneApplyError, isDataplaneError } from "./dataplane/error.ts";
export { describeOp } from "./dataplane/ops.ts";
export type * from "./dataplane/types.ts";
export { FakeDataplane, type FakeDataplaneOptions } from "./dataplane/fake.ts";
export { createKernelDataplane, type KernelDataplaneChoices } from "./dataplane/index.ts";
export { formatIpvsTable } from "./ipvs-format.ts";
export { main, run, type CliDeps, type CliIo } from "./cli.ts";
export { VERSION } from "./version.ts";
