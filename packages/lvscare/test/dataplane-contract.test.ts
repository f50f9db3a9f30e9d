// The dataplane contract suite against the fake, in both apply styles: in order (as IPVS) and
// all-or-nothing (as a transactional backend). The same scenarios run against the kernel's IPVS
// in test/kernel/lvscare-dataplane.kernel.ts.
import { FakeDataplane, type FakeDataplaneOptions } from "../src/dataplane/fake.ts";
import { dataplaneContract } from "./dataplane-contract.ts";

function fakeBackend(name: string, options: FakeDataplaneOptions) {
  let current: FakeDataplane | undefined;
  return {
    name,
    open: async () => (current = new FakeDataplane(options)),
    flushExternally: async () => current?.flushAll(),
  };
}

dataplaneContract(fakeBackend("fake (in order, as IPVS)", {}));
dataplaneContract(fakeBackend("fake (all or nothing)", { capabilities: { atomicApply: true } }));
