/**
 * From `nft -j list table <family> lvscare` back to the model. What the model needs but rules do
 * not say (which VIP a rule is for, its scheduler name, quiesced destinations' weights) is read
 * from the rule comments and the weights map, a counter's rotation from its slot 0; then the
 * table is checked against what render-listing.ts expects for that model. Anything else (a chain
 * deleted or edited by hand, a foreign rule, the IPVS dataplane's link-mode masquerade table)
 * makes the table "damaged": the caller treats it as absent and the next apply rewrites it whole.
 */
import { canonicalIp, type Endpoint, type IpFamily, parseEndpoint } from "../../address.ts";
import { SCHEDULERS, type Scheduler } from "../../config.ts";
import { isDataplaneError } from "../error.ts";
import { isJsonObject, type JsonValue, type ListingItem, listingDifference, listingItems } from "./listing.ts";
import { inCanonicalOrder, liveDestinations, type NftDestination, type NftFamilyState, type NftVirtualServer, type RemovedDestination } from "./model.ts";
import { FILTER_OUTPUT, NAT_OUTPUT, NAT_POSTROUTING, REMOVED_SET, rulesetOf, virtualServerComment, WEIGHTS_MAP } from "./ruleset.ts";
import { isRotating } from "./schedule.ts";
import { expectedListing } from "./render-listing.ts";
import { validateFamilyState } from "./validate.ts";

export type ParsedTable =
  | { readonly status: "intact"; readonly state: NftFamilyState }
  | { readonly status: "damaged"; readonly reason: string };

class Damaged extends Error {}

function damaged(reason: string): never {
  throw new Damaged(reason);
}

function ipOf(value: JsonValue | undefined, family: IpFamily, what: string): string {
  const ip = typeof value === "string" ? canonicalIp(value) : undefined;
  if (ip === undefined || ip.family !== family) damaged(`${what}: ${JSON.stringify(value)} is not an IPv${family} address`);
  return ip.ip;
}

function portOf(value: JsonValue | undefined, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 65535) damaged(`${what}: ${JSON.stringify(value)} is not a port`);
  return value;
}

function concatOf(value: JsonValue | undefined, length: number, what: string): JsonValue[] {
  const concat = isJsonObject(value) ? value.concat : undefined;
  if (!Array.isArray(concat) || concat.length !== length) damaged(`${what}: unexpected element ${JSON.stringify(value)}`);
  return concat;
}

function endpointFromComment(text: string, family: IpFamily, what: string): Endpoint {
  try {
    const endpoint = parseEndpoint(text, what);
    if (endpoint.family !== family) damaged(`${what}: ${text} is not IPv${family}`);
    return endpoint;
  } catch (err) {
    if (err instanceof Damaged) throw err;
    return damaged(`${what}: ${(err as Error).message}`);
  }
}

const VIP_COMMENT = /^lvscare vip=(\S+) scheduler=([a-z]+)$/;
const MASQUERADE_COMMENT = /^lvscare masquerade=(\S+)$/;

function findDeclaration(items: readonly ListingItem[], kind: string, name: string): ListingItem {
  const item = items.find((i) => i.kind === kind && i.body.name === name);
  return item ?? damaged(`${kind} ${name} is missing`);
}

function virtualServersOf(items: readonly ListingItem[], family: IpFamily): Map<string, { address: Endpoint; scheduler: Scheduler }> {
  const found = new Map<string, { address: Endpoint; scheduler: Scheduler }>();
  for (const item of items) {
    if (item.kind !== "rule" || (item.body.chain !== NAT_OUTPUT.name && item.body.chain !== FILTER_OUTPUT.name)) continue;
    const comment = item.body.comment;
    const m = typeof comment === "string" ? VIP_COMMENT.exec(comment) : null;
    if (m === null) damaged(`a rule in chain ${String(item.body.chain)} is not ours`);
    const address = endpointFromComment(m[1] as string, family, "virtual server comment");
    const scheduler = SCHEDULERS.find((s) => s === m[2]) ?? damaged(`unknown scheduler ${m[2]} in a rule comment`);
    const key = `${address.ip} ${address.port}`;
    if (found.has(key)) damaged(`two rules for virtual server ${m[1]}`);
    found.set(key, { address, scheduler });
  }
  return found;
}

function destinationsOf(items: readonly ListingItem[], family: IpFamily): Map<string, NftDestination[]> {
  const map = findDeclaration(items, "map", WEIGHTS_MAP).body;
  const elements = map.elem ?? [];
  if (!Array.isArray(elements)) damaged(`map ${WEIGHTS_MAP} has no element list`);
  const byVip = new Map<string, NftDestination[]>();
  for (const element of elements) {
    if (!Array.isArray(element) || element.length !== 2) damaged(`map ${WEIGHTS_MAP}: unexpected element ${JSON.stringify(element)}`);
    const [key, weight] = element;
    const [vip, vport, ip, port] = concatOf(key, 4, `map ${WEIGHTS_MAP}`);
    const vipKey = `${ipOf(vip, family, WEIGHTS_MAP)} ${portOf(vport, WEIGHTS_MAP)}`;
    if (typeof weight !== "number" || !Number.isInteger(weight)) damaged(`map ${WEIGHTS_MAP}: weight ${JSON.stringify(weight)} is not an integer`);
    const address = { ip: ipOf(ip, family, WEIGHTS_MAP), port: portOf(port, WEIGHTS_MAP), family };
    byVip.set(vipKey, [...(byVip.get(vipKey) ?? []), { address, weight }]);
  }
  return byVip;
}

function removedOf(items: readonly ListingItem[], family: IpFamily): RemovedDestination[] {
  const set = findDeclaration(items, "set", REMOVED_SET).body;
  const elements = set.elem ?? [];
  if (!Array.isArray(elements)) damaged(`set ${REMOVED_SET} has no element list`);
  return elements.map((element) => {
    const [vip, ip, port] = concatOf(element, 3, `set ${REMOVED_SET}`);
    return { vip: ipOf(vip, family, REMOVED_SET), destination: { ip: ipOf(ip, family, REMOVED_SET), port: portOf(port, REMOVED_SET), family } };
  });
}

function masqueradeOf(items: readonly ListingItem[], family: IpFamily): Endpoint[] {
  const vips: Endpoint[] = [];
  for (const item of items) {
    if (item.kind !== "rule" || item.body.chain !== NAT_POSTROUTING.name) continue;
    const comment = item.body.comment;
    const m = typeof comment === "string" ? MASQUERADE_COMMENT.exec(comment) : null;
    if (m === null) damaged(`a rule in chain ${NAT_POSTROUTING.name} is not ours`);
    vips.push(endpointFromComment(m[1] as string, family, "masquerade comment"));
  }
  return vips;
}

/**
 * The rotation of a counter's slots: the index, among the live destinations in canonical order, of
 * the one the DNAT rule maps slot 0 to. 0 when the rule is not there or not as we write it: the
 * comparison with the expected listing then calls the table damaged.
 */
function rotationOf(items: readonly ListingItem[], vs: Omit<NftVirtualServer, "rotation">): number {
  if (!isRotating(vs.scheduler)) return 0;
  const comment = virtualServerComment(vs.address, vs.scheduler);
  const rule = items.find((i) => i.kind === "rule" && i.body.chain === NAT_OUTPUT.name && i.body.comment === comment);
  const expr = rule?.body.expr;
  const dnat = Array.isArray(expr) ? expr.map((e) => (isJsonObject(e) ? e.dnat : undefined)).find(isJsonObject) : undefined;
  const addr = dnat?.addr;
  const map = isJsonObject(addr) ? addr.map : undefined;
  const data = isJsonObject(map) ? map.data : undefined;
  const set = isJsonObject(data) ? data.set : undefined;
  if (!Array.isArray(set)) return 0;
  const first = set.find((entry) => {
    const slot = Array.isArray(entry) ? entry[0] : undefined;
    return slot === 0 || (isJsonObject(slot) && Array.isArray(slot.range) && slot.range[0] === 0);
  });
  const target = Array.isArray(first) && isJsonObject(first[1]) ? first[1].concat : undefined;
  if (!Array.isArray(target) || typeof target[0] !== "string") return 0;
  const ip = canonicalIp(target[0])?.ip;
  const port = target[1];
  const live = liveDestinations(inCanonicalOrder(vs.destinations));
  return Math.max(0, live.findIndex((d) => d.address.ip === ip && d.address.port === port));
}

function stateOf(items: readonly ListingItem[], family: IpFamily): NftFamilyState {
  const destinations = destinationsOf(items, family);
  const virtualServers: NftVirtualServer[] = [];
  for (const [key, found] of virtualServersOf(items, family)) {
    const vs = { ...found, destinations: destinations.get(key) ?? [] };
    const rotation = rotationOf(items, vs);
    virtualServers.push(rotation === 0 ? vs : { ...vs, rotation });
    destinations.delete(key);
  }
  const [orphan] = destinations.keys();
  if (orphan !== undefined) damaged(`map ${WEIGHTS_MAP} has destinations of ${orphan}, which has no rule`);
  return { family, virtualServers, masquerade: masqueradeOf(items, family), removed: removedOf(items, family) };
}

/** `listing` is the parsed JSON of `nft -j list table <family> lvscare`. */
export function parseTable(listing: unknown, family: IpFamily): ParsedTable {
  const items = listingItems(listing);
  if (items === undefined) return { status: "damaged", reason: "the listing is not nft's JSON" };
  try {
    const state = stateOf(items, family);
    validateFamilyState(state);
    const difference = listingDifference(expectedListing(rulesetOf(state)), items);
    if (difference !== undefined) return { status: "damaged", reason: difference };
    return { status: "intact", state };
  } catch (err) {
    if (err instanceof Damaged) return { status: "damaged", reason: err.message };
    if (isDataplaneError(err, "EINVAL")) return { status: "damaged", reason: err.message };
    throw err;
  }
}
