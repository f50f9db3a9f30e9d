/** Entry point of the fake kubeadm (see ../README.md). */
import { FlagError } from "../lib/flags.ts";
import { FakeExit, runFake } from "../lib/fake-tool.ts";
import { ConfigError } from "../kubeadm/config.ts";
import { kubeadmMain } from "../kubeadm/cli.ts";
import { kubeadmError } from "../kubeadm/output.ts";
import { ValidationError } from "../kubeadm/validate.ts";
import { OpensslError } from "../lib/openssl.ts";

await runFake("kubeadm", async (argv) => {
  try {
    return await kubeadmMain(argv);
  } catch (error) {
    if (error instanceof FakeExit) throw error;
    if (error instanceof FlagError || error instanceof ConfigError || error instanceof ValidationError || error instanceof OpensslError) throw kubeadmError(error.message);
    throw error;
  }
});
