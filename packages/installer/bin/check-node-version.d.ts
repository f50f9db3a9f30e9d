export declare const MINIMUM_NODE_MAJOR: number;
/** An error message when `version` (process.versions.node) is too old for seal, else undefined. */
export declare function nodeVersionProblem(version: string): string | undefined;
