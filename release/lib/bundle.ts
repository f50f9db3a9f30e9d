/**
 * One CommonJS file per program (what a Node single executable runs), bundled by esbuild from the
 * TypeScript sources. Three things differ from running the sources:
 * - koffi: its ESM build's `createRequire(import.meta.url)` and its search for `koffi.node` next
 *   to its package both break in a single file. `koffi` resolves to a stub that loads the native
 *   module through release/runtime/koffi-native.ts on first use, then koffi's CommonJS build;
 *   koffi's per-platform packages resolve to that loaded module.
 * - other native addons: only optional ones are allowed (ssh2's crypto binding and cpu-features,
 *   which ssh2 loads in try/catch and replaces with pure JavaScript); they become modules that
 *   throw, so nothing native is loaded. Any other `.node` fails the build.
 * - packages/lvscare/src/build-info.ts gets the commit and date of the build.
 * - import.meta.url is undefined: a CommonJS bundle has no module URL, and code of ours that
 *   locates files beside its source checks `node:sea`'s isSea() first.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import * as esbuild from "esbuild";
import type { BuildInfo } from "../../packages/lvscare/src/build-info.ts";
import { type Program, REPO_ROOT } from "./layout.ts";

const ENTRIES: Record<Program, string> = {
  lvscare: join(REPO_ROOT, "release", "runtime", "lvscare-main.ts"),
  seal: join(REPO_ROOT, "release", "runtime", "seal-main.ts"),
};

const KOFFI_LOADER = join(REPO_ROOT, "release", "runtime", "koffi-native.ts");
const BUILD_INFO_MODULE = join(REPO_ROOT, "packages", "lvscare", "src", "build-info.ts");
const NAMESPACE = "lvscare-dist";

/** Packages whose native addon is optional: they catch the failed require and use JavaScript. */
const OPTIONAL_NATIVE = [/[/\\]node_modules[/\\]ssh2[/\\]/, /[/\\]node_modules[/\\]cpu-features[/\\]/];

export interface BundleResult {
  /** The bundle had to include koffi, so the executable must carry koffi.node. */
  readonly usesKoffi: boolean;
  /** Native addons replaced by throwing modules (optional ones, see OPTIONAL_NATIVE). */
  readonly stubbedNative: readonly string[];
  /** Source files in the bundle, relative to the repository. */
  readonly inputs: readonly string[];
}

export interface BundleOptions {
  /** A program of ours, or any entry file (the tests bundle their own with the same rules). */
  readonly entry: Program | { readonly file: string };
  readonly outfile: string;
  readonly buildInfo: BuildInfo;
  readonly minify: boolean;
}

export async function bundle(options: BundleOptions): Promise<BundleResult> {
  const state = { usesKoffi: false, stubbedNative: [] as string[] };
  const result = await esbuild.build({
    entryPoints: [typeof options.entry === "string" ? ENTRIES[options.entry] : options.entry.file],
    outfile: options.outfile,
    bundle: true,
    platform: "node",
    target: "node24",
    format: "cjs",
    minify: options.minify,
    legalComments: "eof",
    metafile: true,
    logLevel: "silent",
    define: { "import.meta.url": "undefined" },
    // A missing export is a bug in the bundle (e.g. a koffi function the stub does not forward).
    logOverride: { "import-is-undefined": "error" },
    plugins: [koffiPlugin(state), nativeAddonPlugin(state), buildInfoPlugin(options.buildInfo)],
  });
  const problems = [...result.errors, ...result.warnings];
  if (problems.length > 0) {
    const text = await esbuild.formatMessages(problems, { kind: "error", color: false });
    throw new Error(`esbuild (${typeof options.entry === "string" ? options.entry : options.entry.file}):\n${text.join("")}`);
  }
  return {
    usesKoffi: state.usesKoffi,
    stubbedNative: state.stubbedNative,
    inputs: Object.keys(result.metafile.inputs).sort(),
  };
}

function koffiPlugin(state: { usesKoffi: boolean }): esbuild.Plugin {
  const koffiCjs = join(REPO_ROOT, "node_modules", "koffi", "index.cjs");
  return {
    name: "koffi",
    setup(build) {
      build.onResolve({ filter: /^koffi$/ }, () => {
        state.usesKoffi = true;
        return { path: "koffi", namespace: NAMESPACE };
      });
      build.onResolve({ filter: /^@koromix\/koffi-/ }, () => ({ path: "koffi-prebuilt", namespace: NAMESPACE }));
      build.onLoad({ filter: /^koffi$/, namespace: NAMESPACE }, () => {
        // Every export of koffi, forwarded by a getter: nothing native loads until one is used.
        const names = Object.keys(createRequire(import.meta.url)(koffiCjs) as object);
        return {
          contents: [
            `const { koffiNative } = require(${JSON.stringify(KOFFI_LOADER)});`,
            `let koffi;`,
            `function load() { if (koffi === undefined) { koffiNative(); koffi = require(${JSON.stringify(koffiCjs)}); } return koffi; }`,
            `for (const name of ${JSON.stringify(names)}) Object.defineProperty(exports, name, { enumerable: true, get: () => load()[name] });`,
          ].join("\n"),
          loader: "js",
          resolveDir: REPO_ROOT,
        };
      });
      // koffi's index.cjs asks for its platform package first; it gets the module loaded above.
      build.onLoad({ filter: /^koffi-prebuilt$/, namespace: NAMESPACE }, () => ({
        contents: `module.exports = require(${JSON.stringify(KOFFI_LOADER)}).koffiNative();`,
        loader: "js",
        resolveDir: REPO_ROOT,
      }));
    },
  };
}

function nativeAddonPlugin(state: { stubbedNative: string[] }): esbuild.Plugin {
  return {
    name: "native-addons",
    setup(build) {
      build.onResolve({ filter: /(\.node$|^cpu-features$)/ }, (args) => {
        const what = args.path.endsWith(".node") ? join(args.resolveDir, args.path) : args.path;
        if (!OPTIONAL_NATIVE.some((pattern) => pattern.test(`${args.importer}`))) {
          return { errors: [{ text: `${args.importer} requires the native addon ${what}, which a single executable cannot load` }] };
        }
        state.stubbedNative.push(what.replace(`${REPO_ROOT}/`, ""));
        return { path: what, namespace: NAMESPACE, pluginData: "stub" };
      });
      build.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) =>
        args.pluginData === "stub"
          ? { contents: `throw new Error(${JSON.stringify(`${args.path}: native addons are not part of this executable`)});`, loader: "js" }
          : undefined,
      );
    },
  };
}

function buildInfoPlugin(info: BuildInfo): esbuild.Plugin {
  return {
    name: "build-info",
    setup(build) {
      build.onLoad({ filter: /[/\\]build-info\.ts$/ }, (args) => {
        if (args.path !== BUILD_INFO_MODULE) return undefined;
        const source = readFileSync(args.path, "utf8");
        const declaration = /export const BUILD_INFO: BuildInfo = \{[^}]*\};/;
        if (!declaration.test(source)) {
          return { errors: [{ text: `${args.path}: cannot find \`export const BUILD_INFO: BuildInfo = {...};\` to fill in` }] };
        }
        const filled = `export const BUILD_INFO: BuildInfo = ${JSON.stringify({ commit: info.commit, date: info.date })};`;
        return { contents: source.replace(declaration, filled), loader: "ts" };
      });
    },
  };
}
