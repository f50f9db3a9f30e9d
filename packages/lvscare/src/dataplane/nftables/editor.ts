/**
 * The dataplane contract's operations (add/update/delete virtual server and destination) applied
 * to the model, with the errno names the kernel's IPVS answers and every backend imitates:
 * add-virtual-server EEXIST when present; update/delete-virtual-server ESRCH when absent (deleting
 * one removes its destinations); add-destination ESRCH without the virtual server, EEXIST when
 * present; update/delete-destination ESRCH / ENOENT without the virtual server / the destination;
 * an unknown scheduler ENOENT; a weight outside 0..MAX_WEIGHT ERANGE; persistence or a forwarding
 * method other than masq EOPNOTSUPP (nftables has neither). Pure: the result is the desired state
 * the backend then writes in one transaction, so a refused op means no transaction at all.
 *
 * NftOp is shaped like the contract's DataplaneOp, so the adapter passes those straight through.
 */
import { MAX_WEIGHT } from "@lvscare/ipvs-native";
import { type Endpoint, formatEndpoint, sameEndpoint } from "../../address.ts";
import { SCHEDULERS, type Scheduler } from "../../config.ts";
import { DataplaneError } from "../error.ts";
import type { NftDesiredState, NftDestination, NftVirtualServer } from "./model.ts";

export interface NftVirtualServerSpec {
  readonly address: Endpoint;
  readonly scheduler: string;
  /** Seconds; nftables supports none, so only 0 is accepted. */
  readonly persistenceTimeout: number;
}

export interface NftDestinationSpec {
  readonly address: Endpoint;
  readonly weight: number;
  readonly forward: string;
}

export type NftOp =
  | { readonly kind: "add-virtual-server" | "update-virtual-server"; readonly spec: NftVirtualServerSpec }
  | { readonly kind: "delete-virtual-server"; readonly address: Endpoint }
  | { readonly kind: "add-destination" | "update-destination"; readonly virtualServer: Endpoint; readonly destination: NftDestinationSpec }
  | { readonly kind: "delete-destination"; readonly virtualServer: Endpoint; readonly address: Endpoint };

/** An op the model refused; `index` is its position in the list (nothing of the list was applied). */
export class NftOpRefused extends DataplaneError {
  readonly index: number;

  constructor(index: number, op: NftOp, code: string, message: string) {
    super(op.kind, code, message);
    this.index = index;
  }
}

/** The capabilities the contract asks a backend for. */
export const NFTABLES_CAPABILITIES = {
  schedulers: SCHEDULERS,
  maxPersistenceTimeout: 0,
  maxWeight: MAX_WEIGHT,
  forwardMethods: ["masq"],
  atomicApply: true,
} as const;

type Outcome = { readonly ok: true; readonly vss: NftVirtualServer[] } | { readonly ok: false; readonly code: string; readonly message: string };

const refuse = (code: string, message: string): Outcome => ({ ok: false, code, message });

/** The new list of virtual servers, or why the op cannot be applied to `vss`. */
function applyOne(vss: readonly NftVirtualServer[], op: NftOp): Outcome {
  const find = (address: Endpoint) => vss.find((vs) => sameEndpoint(vs.address, address));
  const replace = (address: Endpoint, next: NftVirtualServer | undefined): Outcome => ({
    ok: true,
    vss: vss.flatMap((vs) => (sameEndpoint(vs.address, address) ? (next === undefined ? [] : [next]) : [vs])),
  });
  switch (op.kind) {
    case "add-virtual-server":
    case "update-virtual-server": {
      const name: Scheduler | undefined = SCHEDULERS.find((s) => s === op.spec.scheduler);
      if (name === undefined) return refuse("ENOENT", `Scheduler not found: "${op.spec.scheduler}"`);
      if (op.spec.persistenceTimeout !== 0) return refuse("EOPNOTSUPP", "the nftables dataplane has no persistence");
      const existing = find(op.spec.address);
      if (op.kind === "add-virtual-server") {
        if (existing !== undefined) return refuse("EEXIST", "Service already exists");
        return { ok: true, vss: [...vss, { address: op.spec.address, scheduler: name, destinations: [] }] };
      }
      if (existing === undefined) return refuse("ESRCH", "No such service");
      return replace(op.spec.address, { ...existing, scheduler: name });
    }
    case "delete-virtual-server":
      return find(op.address) === undefined ? refuse("ESRCH", "No such service") : replace(op.address, undefined);
    case "add-destination":
    case "update-destination":
    case "delete-destination": {
      const vs = find(op.virtualServer);
      if (vs === undefined) return refuse("ESRCH", "No such service");
      const address = op.kind === "delete-destination" ? op.address : op.destination.address;
      const present = vs.destinations.some((d) => sameEndpoint(d.address, address));
      if (op.kind === "delete-destination") {
        if (!present) return refuse("ENOENT", "No such destination");
        return replace(vs.address, { ...vs, destinations: vs.destinations.filter((d) => !sameEndpoint(d.address, address)) });
      }
      const { weight, forward } = op.destination;
      if (!Number.isInteger(weight) || weight < 0 || weight > MAX_WEIGHT) return refuse("ERANGE", `weight ${weight} is outside 0..${MAX_WEIGHT}`);
      if (forward !== "masq") return refuse("EOPNOTSUPP", `the nftables dataplane only does masq (DNAT), not ${forward}`);
      const destination: NftDestination = { address, weight };
      if (op.kind === "add-destination") {
        if (present) return refuse("EEXIST", "Destination already exists");
        return replace(vs.address, { ...vs, destinations: [...vs.destinations, destination] });
      }
      if (!present) return refuse("ENOENT", "No such destination");
      return replace(vs.address, { ...vs, destinations: vs.destinations.map((d) => (sameEndpoint(d.address, address) ? destination : d)) });
    }
  }
}

/** `ops` applied in order to `model`; the first refusal throws NftOpRefused and nothing is applied. */
export function applyOps(model: NftDesiredState, ops: readonly NftOp[]): NftDesiredState {
  let virtualServers: readonly NftVirtualServer[] = model.virtualServers;
  ops.forEach((op, index) => {
    const outcome = applyOne(virtualServers, op);
    if (!outcome.ok) {
      const target = "spec" in op ? op.spec.address : "virtualServer" in op ? op.virtualServer : op.address;
      throw new NftOpRefused(index, op, outcome.code, `${formatEndpoint(target)}: ${outcome.message}`);
    }
    virtualServers = outcome.vss;
  });
  return { virtualServers, masquerade: model.masquerade };
}
