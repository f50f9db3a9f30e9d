/** Fake kubelet: reports its version (kubeadm's KubeletVersion preflight reads it) and runs nothing. */
import { FakeExit, banner, runFake } from "../lib/fake-tool.ts";
import { readSettings } from "../lib/settings.ts";

await runFake("kubelet", async (argv) => {
  if (argv.length === 1 && argv[0] === "--version") {
    process.stdout.write(`Kubernetes ${readSettings().kubeletVersion}\n`);
    return 0;
  }
  if (argv.length === 1 && (argv[0] === "--help" || argv[0] === "-h")) {
    process.stdout.write(`${banner("kubelet")}: only --version is modelled; the fake kubeadm registers nodes in the kubelet's place.\n`);
    return 0;
  }
  throw new FakeExit(1, `${banner("kubelet")}: does not run (only --version is modelled); got ${JSON.stringify(argv)}`);
});
