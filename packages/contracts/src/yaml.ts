/**
 * YAML as Kubernetes reads and writes it, for every file a kubelet or kubeadm reads (static pods,
 * kubeadm configs, kubeconfigs). sigs.k8s.io/yaml decodes through its fork of go-yaml v2, which
 * follows YAML 1.1: `on`, `yes`, `y` are booleans there and `0755` is octal, where a YAML 1.2
 * writer would leave them plain. So we write YAML 1.1 (the library then quotes every string a 1.1
 * reader would take for another type) and also quote what go-yaml v2 reads as a number beyond
 * YAML 1.1 (Go's own number syntax: `0o755`, `0X1F`, `1_0`). Map keys are sorted, as Kubernetes
 * marshals them, so files are deterministic and read back identically.
 */
import { Document, parseAllDocuments, Scalar, visit, type Tags } from "yaml";

const YAML_VERSION = "1.1";

// go-yaml v2 resolves a plain scalar that starts with a sign, a digit or a dot by removing "_"
// and trying Go's ParseInt/ParseUint with base 0 (0x, 0o, 0b and leading-0 octal prefixes), then
// its YAML-style float pattern. Matching a little more than it does only quotes a little more.
const GO_INTEGER = /^[-+]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|[0-9]+)$/;
const GO_YAML_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
// Plain scalars go-yaml v2 resolves by table (its resolveMap), beyond what YAML 1.1 says.
const GO_YAML_WORDS = new Set(["<<", "="]);

function goYamlReadsAsNonString(text: string): boolean {
  if (GO_YAML_WORDS.has(text)) return true;
  if (!/^[-+.0-9]/.test(text)) return false;
  const plain = text.replaceAll("_", "");
  return GO_INTEGER.test(plain) || GO_YAML_FLOAT.test(plain);
}

// The library's YAML 1.1 schema writes any string "<<" as a bare merge key; without that tag it
// is a string like any other, which the visitor below then quotes.
const MERGE_TAG = "tag:yaml.org,2002:merge";
const withoutMergeKeys = (tags: Tags): Tags => tags.filter((tag) => typeof tag === "string" || tag.tag !== MERGE_TAG);

export function toKubernetesYaml(value: unknown): string {
  const document = new Document(value, { version: YAML_VERSION, sortMapEntries: true, customTags: withoutMergeKeys });
  visit(document, {
    Scalar(_key, node) {
      if (typeof node.value === "string" && goYamlReadsAsNonString(node.value)) node.type = Scalar.QUOTE_DOUBLE;
    },
  });
  return document.toString({ lineWidth: 0, indentSeq: false });
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
