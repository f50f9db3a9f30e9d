// Kept in plain JavaScript that old Node versions can parse, so they print this message instead
// of a syntax error from the TypeScript sources.
export const MINIMUM_NODE_MAJOR = 24;

/** Returns an error message when `version` (process.versions.node) is too old, else undefined. */
export function nodeVersionProblem(version) {
  const major = Number(String(version).split(".")[0]);
  if (Number.isInteger(major) && major >= MINIMUM_NODE_MAJOR) return undefined;
  return (
    "seal needs Node.js " + MINIMUM_NODE_MAJOR + " or later (it runs its TypeScript sources directly); this is Node.js " +
    version + ". Use the node from node_modules/.bin (npm ci installs it) or install Node.js " + MINIMUM_NODE_MAJOR + "."
  );
}
