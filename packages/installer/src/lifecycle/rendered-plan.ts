/**
 * The rendered cluster a run applies, kept in `~/.seal/<cluster>/render/` (plan.json and the
 * files it names). Rendered once: a resumed or repeated run applies the same bytes (the same
 * certificates and bootstrap token), so hosts that are done see no change.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PLAN_FILE_NAME, type Plan, type PlanFile } from "../plan/plan.ts";

export interface RenderedPlan {
  readonly dir: string;
  readonly plan: Plan;
  content(file: PlanFile): Buffer;
}

export function loadRenderedPlan(dir: string): RenderedPlan {
  const plan = JSON.parse(readFileSync(join(dir, PLAN_FILE_NAME), "utf8")) as Plan;
  return { dir, plan, content: (file) => readFileSync(join(dir, file.source)) };
}
