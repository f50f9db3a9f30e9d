/**
 * The hash our host-side scripts verify uploads with: openssl's digest where the host has
 * openssl, coreutils' sha256sum otherwise; both must give what Node computes.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { SHA256_FUNCTION } from "../src/ssh/remote-scripts.ts";
import { requireTool, run } from "./helpers/tools.ts";

describe("host-side sha256", () => {
  it("with openssl and with sha256sum alone, equal to Node's", async () => {
    const dir = await mkdtemp(join(tmpdir(), "seal-sha-"));
    try {
      const bin = join(dir, "bin");
      await mkdir(bin);
      for (const tool of ["sh", "sha256sum"]) await symlink(requireTool(tool), join(bin, tool));
      // Text input: the runner writes stdin as UTF-8.
      const data = randomBytes(150_000).toString("hex");
      const expected = createHash("sha256").update(data).digest("hex");
      const script = `${SHA256_FUNCTION}\nseal_sha256`;
      requireTool("openssl");
      const withOpenssl = await run(requireTool("sh"), ["-c", script], { input: data, env: { PATH: process.env["PATH"] ?? "" } });
      const withoutOpenssl = await run(join(bin, "sh"), ["-c", script], { input: data, env: { PATH: bin } });
      assert.equal(withOpenssl.stdout, `${expected}\n`, withOpenssl.stderr);
      assert.equal(withoutOpenssl.stdout, `${expected}\n`, withoutOpenssl.stderr);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
