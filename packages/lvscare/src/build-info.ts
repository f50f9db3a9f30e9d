/**
 * What `version` commands print about the build. Running from the TypeScript sources there is no
 * build, and the values say so; `npm run dist` (release/lib/bundle.ts) replaces this module in the
 * single-file executables with the commit and date of the build.
 */
export interface BuildInfo {
  /** `git rev-parse HEAD` at build time, with `-dirty` when the work tree had changes. */
  readonly commit: string;
  /** ISO 8601 UTC; the commit's date (reproducible builds) unless SOURCE_DATE_EPOCH says otherwise. */
  readonly date: string;
}

export const BUILD_INFO: BuildInfo = {
  commit: "unknown (running from source)",
  date: "unknown (running from source)",
};

/** The JSON `lvscare version` and `seal version` print, in Kubernetes' version.Info spelling. */
export interface VersionInfo {
  readonly gitVersion: string;
  readonly gitCommit: string;
  readonly buildDate: string;
  readonly nodeVersion: string;
  readonly platform: string;
}

export function versionInfo(version: string): VersionInfo {
  return {
    gitVersion: `v${version}`,
    gitCommit: BUILD_INFO.commit,
    buildDate: BUILD_INFO.date,
    nodeVersion: process.version,
    platform: `${process.platform}/${process.arch}`,
  };
}
