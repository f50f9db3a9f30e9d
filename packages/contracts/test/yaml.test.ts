/**
 * The YAML we write for the kubelet and kubeadm, read back by an independent YAML 1.1 reader
 * (PyYAML, Debian's python3-yaml) and by our own reader.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import { parseYamlDocuments, toKubernetesYaml, toMultiDocumentYaml } from "../src/yaml.ts";

const PYTHON = "/usr/bin/python3";

/** Every document of `text` as PyYAML's safe_load_all reads it, through JSON. */
function readWithPyYaml(text: string): unknown[] {
  if (!existsSync(PYTHON)) assert.fail(`${PYTHON} is missing: apt-get install python3 python3-yaml (scripts/setup.sh installs both)`);
  const script = "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(sys.stdin.read()))))";
  const result = spawnSync(PYTHON, ["-c", script], { input: text, encoding: "utf8" });
  if (result.status !== 0 && result.stderr.includes("No module named 'yaml'")) {
    assert.fail("python3 has no yaml module: apt-get install python3-yaml (scripts/setup.sh installs it)");
  }
  assert.equal(result.status, 0, `PyYAML refused:\n${text}\n${result.stderr}`);
  return JSON.parse(result.stdout) as unknown[];
}

// Strings a YAML 1.1 reader (go-yaml v2 in sigs.k8s.io/yaml, PyYAML) takes for something else
// when they are written plain: booleans, nulls, octal/hex/binary/sexagesimal numbers, floats,
// timestamps, merge keys, and indicators that start other syntax.
const NASTY = [
  "on", "off", "On", "OFF", "yes", "no", "Yes", "NO", "y", "n", "Y", "N", "true", "False", "~", "null", "Null", "",
  "0755", "0o755", "0X1F", "0x1f", "0b101", "-0b11", "1_000", "1:20", "190:20:30", "1e3", "1E3", "12e03", "1.0", "1.",
  ".5", "-.5", "+1", "-1", "08", ".inf", "-.Inf", ".NaN", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
  ":", "#", "# not a comment", "a #b", "a: b", "-", "- a", "--- x", "...", "*", "*a", "&", "&a", "!", "!a", "!!str",
  "%x", "@x", "`x", "|", ">", "?", "? x", "[x", "]", "{x", "}", ",", "'", '"', "<<", "=", " leading", "trailing ",
];

describe("YAML as the kubelet reads it", () => {
  it("quotes every string a YAML 1.1 reader would take for another type, as values and as keys", () => {
    const document = {
      values: NASTY,
      keys: Object.fromEntries(NASTY.filter((text) => text !== "").map((text) => [text, text])),
      nested: [{ image: "localhost/lvscare:0.1.0", mode: "0644", enabled: "on" }],
    };
    const text = toKubernetesYaml(document);
    assert.deepEqual(readWithPyYaml(text), [document]);
    assert.deepEqual(parseYamlDocuments(text), { values: [document], errors: [] });
  });

  it("quotes what go-yaml v2 reads as a number beyond YAML 1.1 (Go's number syntax), which PyYAML cannot show", () => {
    // Checked against sigs.k8s.io/yaml (kubectl config view): each of these, written plain, made
    // it fail with "cannot unmarshal number into Go struct field ... of type string".
    for (const value of ["0o755", "0O755", "0X1F", "1_0", "-0b11", "08", "1e3", ".5", "+1"]) {
      assert.equal(toKubernetesYaml({ name: value }), `name: "${value}"\n`, value);
    }
  });

  it("leaves ordinary strings plain, so manifests read as Kubernetes writes them", () => {
    const plain = ["10.103.97.2:6443", "fd00::10", "192.168.0.10", "v1.31.2", "/healthz", "--rs", "kube-system", "10.96.0.0/22", "unix:///run/containerd/containerd.sock"];
    assert.equal(toKubernetesYaml(plain), plain.map((text) => `- ${text}\n`).join(""));
  });

  it("sorts map keys, writes sequences unindented and never folds long lines", () => {
    const long = "x".repeat(300);
    assert.equal(toKubernetesYaml({ b: 1, a: { d: [true], c: null }, e: long }), `a:\n  c: null\n  d:\n  - true\nb: 1\ne: ${long}\n`);
  });

  it("joins documents with --- and reads them back, refusing duplicate keys", () => {
    const text = toMultiDocumentYaml([{ kind: "InitConfiguration" }, { kind: "ClusterConfiguration", mode: "on" }]);
    assert.equal(text, `kind: InitConfiguration\n---\nkind: ClusterConfiguration\nmode: "on"\n`);
    assert.deepEqual(readWithPyYaml(text), [{ kind: "InitConfiguration" }, { kind: "ClusterConfiguration", mode: "on" }]);
    assert.deepEqual(parseYamlDocuments("a: 1\na: 2\n").errors.length, 1);
  });
});
