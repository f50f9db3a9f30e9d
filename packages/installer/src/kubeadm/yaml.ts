/**
 * YAML as Kubernetes reads and writes it. sigs.k8s.io/yaml goes through go-yaml v2, which follows
 * YAML 1.1 (so `yes`, `on` and `y` are booleans there and must be quoted as strings) and marshals
 * map keys in sorted order; we do the same, so files are deterministic and read back identically.
 */
import { parseAllDocuments, stringify } from "yaml";

const YAML_VERSION = "1.1";

export function toKubernetesYaml(value: unknown): string {
  return stringify(value, { version: YAML_VERSION, sortMapEntries: true, lineWidth: 0, indentSeq: false });
}

/** Several documents separated by `---`, as kubeadm expects its --config file. */
export function toMultiDocumentYaml(values: readonly unknown[]): string {
  return values.map(toKubernetesYaml).join("---\n");
}

/** Parses every document; duplicate keys and syntax errors are errors (go-yaml refuses both). */
export function parseYamlDocuments(text: string): { values: unknown[]; errors: string[] } {
  const documents = parseAllDocuments(text, { version: YAML_VERSION, uniqueKeys: true, strict: true });
  const list = Array.isArray(documents) ? documents : [];
  const errors: string[] = [];
  if (!Array.isArray(documents)) errors.push("not a YAML stream");
  const values: unknown[] = [];
  list.forEach((document, index) => {
    for (const error of document.errors) errors.push(`document ${index + 1}: ${error.message.split("\n")[0]}`);
    if (document.errors.length === 0) values.push(document.toJS({ maxAliasCount: 0 }));
  });
  return { values, errors };
}
