/** Kept equal to package.json's version by test/cli.test.ts; the default image tag follows it. */
export { LVSCARE_VERSION as VERSION } from "@lvscare/contracts/names";
