/** `kubeadm token create|list|delete|generate`, against the stand-in API server with admin.conf. */
import { join } from "node:path";
import { parseFlags } from "../lib/flags.ts";
import { parseGoDuration } from "../lib/duration.ts";
import { readKubeconfig } from "../lib/kubeconfig.ts";
import { apiOk, apiRequest, statusMessage } from "../lib/kube-client.ts";
import { spkiPin } from "../lib/openssl.ts";
import { readTokenSecret } from "../apiserver/access.ts";
import { createToken } from "./cluster-api.ts";
import { GLOBAL_FLAGS, generateToken } from "./common.ts";
import { KUBERNETES_DIR } from "./init.ts";
import { kubeadmError, print } from "./output.ts";

const TOKEN = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;
const TOKEN_FLAGS = [
  ...GLOBAL_FLAGS,
  { name: "kubeconfig", kind: "string" as const },
  { name: "dry-run", kind: "bool" as const },
  { name: "print-join-command", kind: "bool" as const },
  { name: "ttl", kind: "string" as const },
  { name: "description", kind: "string" as const },
  { name: "groups", kind: "strings" as const },
  { name: "usages", kind: "strings" as const },
  { name: "certificate-key", kind: "string" as const },
  { name: "config", kind: "string" as const },
  { name: "output", short: "o", kind: "string" as const },
  { name: "show-managed-fields", kind: "bool" as const },
  { name: "allow-missing-template-keys", kind: "bool" as const },
];

export async function runToken(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv[0]?.startsWith("-") === false ? argv : ["", ...argv];
  const flags = parseFlags(rest, TOKEN_FLAGS);
  const kubeconfig = () => readKubeconfig(flags.string("kubeconfig") ?? join(KUBERNETES_DIR, "admin.conf"));
  switch (sub) {
    case "generate":
      print(generateToken());
      return 0;
    case "create": {
      const token = flags.args[0] ?? generateToken();
      if (!TOKEN.test(token)) throw kubeadmError(`the bootstrap token "${token}" was not of the form "\\\\A([a-z0-9]{6})\\\\.([a-z0-9]{16})\\\\z"`);
      const ttl = parseGoDuration(flags.string("ttl") ?? "24h0m0s");
      if (ttl === undefined) throw kubeadmError(`invalid argument "${flags.string("ttl")}" for "--ttl" flag: time: invalid duration "${flags.string("ttl")}"`);
      const admin = kubeconfig();
      await createToken(admin, {
        token,
        description: flags.string("description") ?? "",
        ttlMs: ttl,
        usages: flags.given.has("usages") ? flags.strings("usages") : ["signing", "authentication"],
        groups: flags.given.has("groups") ? flags.strings("groups") : ["system:bootstrappers:kubeadm:default-node-token"],
      }).catch((error: unknown) => {
        throw kubeadmError(`failed to create or update bootstrap token with name bootstrap-token-${token.slice(0, 6)}: ${error instanceof Error ? error.message : String(error)}`);
      });
      if (!flags.bool("print-join-command")) {
        print(token);
        return 0;
      }
      const endpoint = admin.server.replace(/^https:\/\//, "");
      const key = flags.string("certificate-key");
      print(`kubeadm join ${endpoint} --token ${token} --discovery-token-ca-cert-hash ${spkiPin(admin.caPem)} ${key === undefined ? "" : `--control-plane --certificate-key ${key} `}`);
      return 0;
    }
    case "list": {
      const list = (await apiOk(kubeconfig(), "GET", "/api/v1/namespaces/kube-system/secrets?fieldSelector=type%3Dbootstrap.kubernetes.io%2Ftoken")) as { items?: Record<string, unknown>[] };
      const rows = (list.items ?? []).map((item) => {
        const token = readTokenSecret(item);
        const data = item["data"] as Record<string, string>;
        const expiration = data["expiration"] === undefined ? "<forever>" : Buffer.from(data["expiration"], "base64").toString();
        const left = expiration === "<forever>" ? "<forever>" : `${Math.max(0, Math.floor((Date.parse(expiration) - Date.now()) / 3_600_000))}h`;
        const usages = [token?.authentication ? "authentication" : "", token?.signing ? "signing" : ""].filter((usage) => usage !== "").join(",");
        const description = data["description"] === undefined ? "<none>" : Buffer.from(data["description"], "base64").toString();
        return [`${token?.id}.${token?.secret}`, left, expiration, usages, description, token?.extraGroups.join(",") ?? ""];
      });
      if (flags.string("output") === "json") {
        for (const row of rows) print(JSON.stringify({ kind: "BootstrapToken", apiVersion: "output.kubeadm.k8s.io/v1alpha3", token: row[0], description: row[4], ttl: row[1], expires: row[2], usages: row[3]?.split(","), groups: row[5]?.split(",") }));
        return 0;
      }
      const header = ["TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA GROUPS"];
      const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => String(row[column]).length)));
      for (const row of [header, ...rows]) print(row.map((cell, column) => String(cell).padEnd((widths[column] ?? 0) + 3)).join("").trimEnd());
      return 0;
    }
    case "delete": {
      if (flags.args.length === 0) throw kubeadmError("missing argument; 'token delete' is missing token of form \"[a-z0-9]{6}\" or \"[a-z0-9]{6}\\.[a-z0-9]{16}\"");
      const admin = kubeconfig();
      for (const arg of flags.args) {
        const id = arg.slice(0, 6);
        const response = await apiRequest(admin, "DELETE", `/api/v1/namespaces/kube-system/secrets/bootstrap-token-${id}`);
        if (response.status !== 200) throw kubeadmError(`failed to delete bootstrap token "${id}": ${statusMessage(response)}`);
        print(`bootstrap token "${id}" deleted`);
      }
      return 0;
    }
    default:
      throw kubeadmError(sub === "" ? "missing subcommand; \"token\" is not meant to be run on its own" : `unknown command "${sub}" for "kubeadm token"`);
  }
}
