/** `lvscare static-pod`: the manifest `sealctl static-pod lvscare` writes, printed or written atomically. */
import { join } from "node:path";
import { writeFileAtomic } from "../atomic-write.ts";
import { UsageError } from "../errors.ts";
import { splitRealServerArgs } from "../servers.ts";
import { renderLvscareStaticPod } from "../static-pod.ts";
import type { CliIo } from "./io.ts";
import { parseDataplaneName } from "./dataplane-choice.ts";
import { readNodeIp } from "./node-ip.ts";

export interface StaticPodFlags {
  vip: string;
  masters?: string[];
  image: string;
  name: string;
  path: string;
  print?: boolean;
  options?: string[];
  dataplane?: string;
}

export function staticPodCommand(flags: StaticPodFlags, io: CliIo): void {
  if (!flags.masters || flags.masters.length === 0) throw new UsageError("--masters is required");
  const masters = splitRealServerArgs(flags.masters);
  const vipFamily = flags.vip.trim().startsWith("[") ? 6 : 4;
  const nodeIp = readNodeIp(io, vipFamily);
  const manifest = renderLvscareStaticPod({
    vip: flags.vip,
    masters,
    image: flags.image,
    name: flags.name,
    options: flags.options ?? [],
    ...(flags.dataplane === undefined ? {} : { dataplane: parseDataplaneName(flags.dataplane) }),
    ...(nodeIp === undefined ? {} : { nodeIp }),
  });
  if (flags.print) {
    io.stdout.write(manifest);
    return;
  }
  const target = join(flags.path, `${flags.name}.yaml`);
  writeFileAtomic(target, manifest);
  io.stdout.write(`wrote ${target}\n`);
}
