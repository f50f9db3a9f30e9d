/**
 * Fake ctr: `images import` checks the archive for real (a docker-archive manifest.json or an OCI
 * index.json + oci-layout, every referenced blob present, OCI blob digests recomputed) and
 * records the images per containerd namespace in IMAGE_STORE; `images ls`, `images rm`,
 * `version`. Every command needs the fake containerd's socket, as ctr needs containerd.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { dirname } from "node:path";
import { IMAGE_STORE } from "../contract.ts";
import { FakeExit, banner, runFake } from "../lib/fake-tool.ts";
import { FlagError, parseFlags, type FlagSpec } from "../lib/flags.ts";
import { readSettings } from "../lib/settings.ts";
import { readTar, TarError } from "../lib/tar.ts";

interface StoredImage {
  ref: string;
  digest: string;
  size: number;
}

const GLOBAL: FlagSpec[] = [
  { name: "namespace", short: "n", kind: "string" },
  { name: "address", short: "a", kind: "string" },
  { name: "debug", kind: "bool" },
  { name: "timeout", kind: "string" },
  { name: "connect-timeout", kind: "string" },
  { name: "help", short: "h", kind: "bool" },
];

const fail = (message: string) => new FakeExit(1, `ctr: ${message}`);
const sha256 = (data: Buffer) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

function dial(socket: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const connection = createConnection(socket);
    connection.once("connect", () => {
      connection.destroy();
      resolve();
    });
    connection.once("error", (error: NodeJS.ErrnoException) =>
      reject(fail(`failed to dial "${socket}": connection error: desc = "transport: error while dialing: dial unix ${socket}: connect: ${error.code === "ENOENT" ? "no such file or directory" : "connection refused"}"`)),
    );
  });
}

function loadStore(): Record<string, StoredImage[]> {
  try {
    return JSON.parse(readFileSync(IMAGE_STORE, "utf8")) as Record<string, StoredImage[]>;
  } catch {
    return {};
  }
}

function saveStore(store: Record<string, StoredImage[]>): void {
  mkdirSync(dirname(IMAGE_STORE), { recursive: true });
  writeFileSync(`${IMAGE_STORE}.tmp`, JSON.stringify(store, null, 2));
  renameSync(`${IMAGE_STORE}.tmp`, IMAGE_STORE);
}

const normalize = (ref: string) => (/^[^/]+\.[^/]+\//.test(ref) || ref.startsWith("localhost/") ? ref : `docker.io/${ref.includes("/") ? ref : `library/${ref}`}`);

/** The images an archive holds, after checking it is complete. */
function inspectArchive(path: string): StoredImage[] {
  let files: Map<string, Buffer>;
  try {
    files = readTar(path);
  } catch (error) {
    if (error instanceof TarError || (error as NodeJS.ErrnoException).code === "ENOENT") throw fail(error instanceof TarError ? `unrecognized image format: ${error.message}` : `open ${path}: no such file or directory`);
    throw error;
  }
  const json = (name: string) => {
    const content = files.get(name);
    if (content === undefined) throw fail(`${name} referenced by the archive is missing`);
    try {
      return JSON.parse(content.toString()) as unknown;
    } catch {
      throw fail(`${name} is not valid JSON`);
    }
  };
  const blob = (digest: string) => {
    const name = `blobs/${digest.replace(":", "/")}`;
    const content = files.get(name);
    if (content === undefined) throw fail(`content digest ${digest}: not found in the archive`);
    if (sha256(content) !== digest) throw fail(`content digest ${digest}: the blob's sha256 is ${sha256(content)}`);
    return content;
  };
  if (files.has("index.json") && files.has("oci-layout")) {
    const index = json("index.json") as { manifests?: { digest: string; size: number; annotations?: Record<string, string> }[] };
    const images: StoredImage[] = [];
    for (const entry of index.manifests ?? []) {
      const manifest = JSON.parse(blob(entry.digest).toString()) as { config?: { digest: string }; layers?: { digest: string }[]; manifests?: unknown[] };
      if (manifest.config !== undefined) blob(manifest.config.digest);
      for (const layer of manifest.layers ?? []) blob(layer.digest);
      const ref = entry.annotations?.["io.containerd.image.name"] ?? entry.annotations?.["org.opencontainers.image.ref.name"];
      if (ref === undefined) throw fail("the OCI index names no image (annotation io.containerd.image.name or org.opencontainers.image.ref.name)");
      images.push({ ref: ref.includes(":") || ref.includes("/") ? normalize(ref) : ref, digest: entry.digest, size: entry.size });
    }
    return images;
  }
  if (files.has("manifest.json")) {
    const manifest = json("manifest.json") as { Config?: string; RepoTags?: string[] | null; Layers?: string[] }[];
    if (!Array.isArray(manifest)) throw fail("manifest.json of a docker archive must be a list");
    const images: StoredImage[] = [];
    for (const entry of manifest) {
      if (typeof entry.Config !== "string" || !Array.isArray(entry.Layers)) throw fail("manifest.json entry without Config or Layers");
      const config = files.get(entry.Config);
      if (config === undefined) throw fail(`${entry.Config} referenced by manifest.json is missing`);
      const named = /([0-9a-f]{64})(?:\.json)?$/.exec(entry.Config)?.[1];
      if (named !== undefined && sha256(config) !== `sha256:${named}`) throw fail(`${entry.Config}: the config's sha256 is ${sha256(config)}`);
      for (const layer of entry.Layers) if (!files.has(layer)) throw fail(`layer ${layer} referenced by manifest.json is missing`);
      for (const tag of entry.RepoTags ?? []) images.push({ ref: normalize(tag), digest: sha256(config), size: config.length });
    }
    return images;
  }
  throw fail("unrecognized image format: neither manifest.json (docker archive) nor index.json + oci-layout (OCI)");
}

await runFake("ctr", async (argv) => {
  let flags;
  const commandAt = argv.findIndex((arg, index) => !arg.startsWith("-") && !["-n", "--namespace", "-a", "--address", "--timeout", "--connect-timeout"].includes(argv[index - 1] ?? ""));
  try {
    flags = parseFlags(commandAt === -1 ? argv : argv.slice(0, commandAt), GLOBAL);
  } catch (error) {
    if (error instanceof FlagError) throw new FakeExit(1, `Incorrect Usage: flag provided but not defined: ${error.message.replace(/^unknown (shorthand )?flag: /, "")}`);
    throw error;
  }
  const namespace = flags.string("namespace") ?? process.env["CONTAINERD_NAMESPACE"] ?? "default";
  const socket = flags.string("address") ?? "/run/containerd/containerd.sock";
  const rest = commandAt === -1 ? [] : argv.slice(commandAt);
  const [command, sub, ...args] = rest;
  if (command === undefined || flags.bool("help")) {
    process.stdout.write(`${banner("ctr")}: ctr [-n NAMESPACE] images import|ls|rm, version\n`);
    return 0;
  }
  if (command === "version") {
    await dial(socket);
    const version = readSettings().containerdVersion;
    process.stdout.write(`Client:\n  Version:  v${version}\n  Revision: fake\n\nServer:\n  Version:  v${version}\n  Revision: fake\n  UUID: ${banner("containerd")}\n`);
    return 0;
  }
  if (!["images", "image", "i"].includes(command)) throw fail(`No help topic for '${command}'`);
  const store = loadStore();
  const images = store[namespace] ?? [];
  switch (sub) {
    case "import": {
      const parsed = (() => {
        try {
          return parseFlags(args, [
            { name: "all-platforms", kind: "bool" },
            { name: "base-name", kind: "string" },
            { name: "digests", kind: "bool" },
            { name: "index-name", kind: "string" },
            { name: "no-unpack", kind: "bool" },
            { name: "platform", kind: "strings" },
            { name: "snapshotter", kind: "string" },
            { name: "label", kind: "strings" },
          ]);
        } catch (error) {
          throw error instanceof FlagError ? new FakeExit(1, `Incorrect Usage: flag provided but not defined: ${error.message.replace(/^unknown (shorthand )?flag: /, "")}`) : error;
        }
      })();
      if (parsed.args.length !== 1) throw fail("expected 1 argument: the archive to import (- for stdin is not modelled)");
      await dial(socket);
      for (const image of inspectArchive(parsed.args[0] ?? "")) {
        process.stdout.write(`unpacking ${image.ref} (${image.digest})...done\n`);
        const others = images.filter((known) => known.ref !== image.ref);
        images.splice(0, images.length, ...others, image);
      }
      store[namespace] = images;
      saveStore(store);
      return 0;
    }
    case "ls":
    case "list": {
      await dial(socket);
      const quiet = args.includes("-q") || args.includes("--quiet");
      if (quiet) process.stdout.write(images.map((image) => `${image.ref}\n`).join(""));
      else {
        process.stdout.write("REF TYPE DIGEST SIZE PLATFORMS LABELS\n");
        for (const image of images) process.stdout.write(`${image.ref} application/vnd.oci.image.manifest.v1+json ${image.digest} ${image.size} B linux/amd64 -\n`);
      }
      return 0;
    }
    case "rm":
    case "remove":
    case "delete":
    case "del": {
      await dial(socket);
      for (const ref of args) {
        const index = images.findIndex((image) => image.ref === ref);
        if (index === -1) throw fail(`image "${ref}": not found`);
        images.splice(index, 1);
        process.stdout.write(`${ref}\n`);
      }
      store[namespace] = images;
      saveStore(store);
      return 0;
    }
    default:
      throw fail(sub === undefined ? "images: a subcommand is required (import, ls, rm)" : `No help topic for '${sub}'`);
  }
});
