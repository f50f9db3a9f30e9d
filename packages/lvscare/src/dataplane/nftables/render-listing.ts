/**
 * What `nft -j list table` shows for a table render-script.ts wrote from the same ruleset (the
 * JSON of nft 1.0.6, Debian 12 and the container image). parse.ts compares a live listing with
 * this to tell our intact table from one that was damaged or edited.
 */
import type { Endpoint } from "../../address.ts";
import { nftFamily, TABLE } from "./model.ts";
import type { JsonObject, JsonValue, ListingItem } from "./listing.ts";
import { CHAINS, type DnatRule, REMOVED_SET, type Rule, ruleComment, rulesByChain, type Ruleset, WEIGHTS_MAP } from "./ruleset.ts";
import { JHASH_SEED } from "./schedule.ts";

function match(left: JsonValue, right: JsonValue, op = "=="): JsonObject {
  return { match: { op, left, right } };
}

function payload(protocol: string, field: string): JsonObject {
  return { payload: { protocol, field } };
}

function ctOriginal(key: string): JsonObject {
  return { ct: { key, dir: "original" } };
}

function vipMatch(proto: string, vip: Endpoint): JsonObject[] {
  return [match(payload(proto, "daddr"), vip.ip), match(payload("tcp", "dport"), vip.port)];
}

function dnatExpr(rule: DnatRule, proto: string): JsonObject[] {
  const key: JsonObject =
    rule.selector.kind === "numgen"
      ? { numgen: { mode: rule.selector.mode, mod: rule.slots.modulus, offset: 0 } }
      : { jhash: { mod: rule.slots.modulus, seed: JHASH_SEED, expr: payload(proto, rule.selector.field) } };
  const data = rule.slots.slots.map((s): JsonValue => {
    const slot: JsonValue = s.from === s.to ? s.from : { range: [s.from, s.to] };
    return [slot, { concat: [s.destination.ip, s.destination.port] }];
  });
  return [...vipMatch(proto, rule.vip), { dnat: { family: proto, addr: { map: { key, data: { set: data } } } } }];
}

function ruleExpr(rule: Rule, proto: string): JsonObject[] {
  switch (rule.kind) {
    case "dnat":
      return dnatExpr(rule, proto);
    case "refuse":
      return [...vipMatch(proto, rule.vip), match({ ct: { key: "state" } }, "new", "in"), { reject: { type: "tcp reset" } }];
    case "reset-removed":
      return [
        match({ ct: { key: "direction" } }, "original"),
        match({ ct: { key: "status" } }, "dnat", "in"),
        match({ concat: [ctOriginal(`${proto} daddr`), payload(proto, "daddr"), payload("tcp", "dport")] }, `@${REMOVED_SET}`),
        { reject: { type: "tcp reset" } },
      ];
    case "masquerade":
      return [
        match({ meta: { key: "l4proto" } }, "tcp"),
        match({ ct: { key: "status" } }, "dnat", "in"),
        match(ctOriginal(`${proto} daddr`), rule.vip.ip),
        match(ctOriginal("proto-dst"), rule.vip.port),
        { masquerade: null },
      ];
  }
}

export function expectedListing(ruleset: Ruleset): ListingItem[] {
  const family = nftFamily(ruleset.family);
  const addr = ruleset.family === 6 ? "ipv6_addr" : "ipv4_addr";
  const common = { family, table: TABLE };
  const withElements = (body: JsonObject, elements: JsonValue[]): JsonObject => (elements.length === 0 ? body : { ...body, elem: elements });
  const items: ListingItem[] = [
    { kind: "table", body: { family, name: TABLE } },
    {
      kind: "map",
      body: withElements(
        { ...common, name: WEIGHTS_MAP, type: [addr, "inet_service", addr, "inet_service"], map: "mark" },
        ruleset.weights.map((w) => [{ concat: [w.vip.ip, w.vip.port, w.destination.ip, w.destination.port] }, w.weight]),
      ),
    },
    {
      kind: "set",
      body: withElements(
        { ...common, name: REMOVED_SET, type: [addr, addr, "inet_service"] },
        ruleset.removed.map((r) => ({ concat: [r.vip, r.destination.ip, r.destination.port] })),
      ),
    },
  ];
  for (const chain of CHAINS) {
    items.push({ kind: "chain", body: { ...common, name: chain.name, type: chain.type, hook: chain.hook, prio: chain.priority, policy: "accept" } });
  }
  for (const { chain, rules } of rulesByChain(ruleset)) {
    for (const rule of rules) {
      const comment = ruleComment(rule);
      items.push({ kind: "rule", body: { ...common, chain: chain.name, ...(comment === undefined ? {} : { comment }), expr: ruleExpr(rule, family) } });
    }
  }
  return items;
}
