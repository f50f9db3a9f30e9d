/**
 * The documents of a kubeadm --config file, found by apiVersion and kind and decoded strictly.
 * This is how tests (and anyone holding a rendered file) prove it is what kubeadm will read.
 */
import { parseYamlDocuments, toMultiDocumentYaml } from "@lvscare/contracts/yaml";
import type { Codec } from "./codec.ts";
import * as componentConfigs from "./component-configs.ts";
import * as v1beta3 from "./v1beta3.ts";
import * as v1beta4 from "./v1beta4.ts";

export type ConfigDocument =
  | v1beta3.InitConfiguration
  | v1beta3.ClusterConfiguration
  | v1beta3.JoinConfiguration
  | v1beta4.InitConfiguration
  | v1beta4.ClusterConfiguration
  | v1beta4.JoinConfiguration
  | componentConfigs.KubeProxyConfiguration
  | componentConfigs.KubeletConfiguration;

const CODECS: Record<string, Record<string, Codec<ConfigDocument>>> = {
  [v1beta3.API_VERSION]: {
    InitConfiguration: v1beta3.InitConfiguration,
    ClusterConfiguration: v1beta3.ClusterConfiguration,
    JoinConfiguration: v1beta3.JoinConfiguration,
  },
  [v1beta4.API_VERSION]: {
    InitConfiguration: v1beta4.InitConfiguration,
    ClusterConfiguration: v1beta4.ClusterConfiguration,
    JoinConfiguration: v1beta4.JoinConfiguration,
  },
  [componentConfigs.KUBE_PROXY_API_VERSION]: { KubeProxyConfiguration: componentConfigs.KubeProxyConfiguration },
  [componentConfigs.KUBELET_API_VERSION]: { KubeletConfiguration: componentConfigs.KubeletConfiguration },
};

/** Every problem found in a config file; the message lists them all, one per line. */
export class ConfigDecodeError extends Error {
  override readonly name = "ConfigDecodeError";
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`strict decoding failed:\n  ${problems.join("\n  ")}`);
    this.problems = problems;
  }
}

export function decodeConfigDocument(value: unknown, label: string): ConfigDocument {
  const problems: string[] = [];
  const document = decodeInto(value, label, problems);
  if (document === undefined || problems.length > 0) throw new ConfigDecodeError(problems);
  return document;
}

function decodeInto(value: unknown, label: string, problems: string[]): ConfigDocument | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    problems.push(`${label}: not an object`);
    return undefined;
  }
  const { apiVersion, kind } = value as { apiVersion?: unknown; kind?: unknown };
  if (typeof apiVersion !== "string" || typeof kind !== "string") {
    problems.push(`${label}: apiVersion and kind must both be set`);
    return undefined;
  }
  const codec = CODECS[apiVersion]?.[kind];
  if (codec === undefined) {
    problems.push(`${label}: unknown kind ${kind} in ${apiVersion}`);
    return undefined;
  }
  const errors: string[] = [];
  const document = codec.decode(value, "", errors);
  problems.push(...errors.map((error) => `${label} (${kind}): ${error}`));
  return document;
}

/** Decodes a whole multi-document file; throws ConfigDecodeError listing every problem. */
export function decodeConfigFile(text: string): ConfigDocument[] {
  const { values, errors } = parseYamlDocuments(text);
  const problems = [...errors];
  const documents: ConfigDocument[] = [];
  values.forEach((value, index) => {
    const document = decodeInto(value, `document ${index + 1}`, problems);
    if (document !== undefined) documents.push(document);
  });
  if (problems.length > 0) throw new ConfigDecodeError(problems);
  return documents;
}

export function encodeConfigFile(documents: readonly ConfigDocument[]): string {
  return toMultiDocumentYaml(documents);
}
