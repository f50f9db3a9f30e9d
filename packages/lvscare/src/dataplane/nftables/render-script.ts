/**
 * The nft transaction that makes our table of one family exactly the model: create it if
 * missing, delete it, create it whole, all in one transaction. So a table that was flushed,
 * deleted, edited by hand, or written by the IPVS dataplane's link mode ends up exactly ours, and
 * nft commits all of it or none of it. One line (`;` between commands), because `nft -i` takes
 * one line as one transaction. Only validated values reach the text.
 */
import type { Endpoint, IpFamily } from "../../address.ts";
import { DataplaneError } from "../error.ts";
import { type NftFamilyState, nftFamily, TABLE } from "./model.ts";
import { type DnatRule, REMOVED_SET, type Rule, ruleComment, rulesByChain, type Ruleset, rulesetOf, TABLE_COMMENT, WEIGHTS_MAP } from "./ruleset.ts";
import { JHASH_SEED, type Selector } from "./schedule.ts";
import { validateFamilyState } from "./validate.ts";

function addressType(family: IpFamily): string {
  return family === 6 ? "ipv6_addr" : "ipv4_addr";
}

function endpointValue(endpoint: Endpoint): string {
  return `${endpoint.ip} . ${endpoint.port}`;
}

function quoted(text: string): string {
  return `"${text}"`;
}

function selectorText(selector: Selector, proto: string): string {
  if (selector.kind === "numgen") return `numgen ${selector.mode}`;
  return `jhash ${proto} ${selector.field}`;
}

function dnatRuleText(rule: DnatRule, proto: string): string {
  const { modulus, slots } = rule.slots;
  const seed = rule.selector.kind === "jhash" ? ` seed 0x${JHASH_SEED.toString(16)}` : "";
  const map = slots.map((s) => `${s.from === s.to ? s.from : `${s.from}-${s.to}`} : ${endpointValue(s.destination)}`).join(", ");
  return `${proto} daddr ${rule.vip.ip} tcp dport ${rule.vip.port} dnat ${proto} to ${selectorText(rule.selector, proto)} mod ${modulus}${seed} map { ${map} }`;
}

function ruleText(rule: Rule, proto: string): string {
  const comment = ruleComment(rule);
  const suffix = comment === undefined ? "" : ` comment ${quoted(comment)}`;
  switch (rule.kind) {
    case "dnat":
      return `${dnatRuleText(rule, proto)}${suffix}`;
    case "refuse":
      return `${proto} daddr ${rule.vip.ip} tcp dport ${rule.vip.port} ct state new reject with tcp reset${suffix}`;
    case "reset-removed":
      return `ct direction original ct status dnat ct original ${proto} daddr . ${proto} daddr . tcp dport @${REMOVED_SET} reject with tcp reset${suffix}`;
    case "masquerade":
      return `meta l4proto tcp ct status dnat ct original ${proto} daddr ${rule.vip.ip} ct original proto-dst ${rule.vip.port} masquerade${suffix}`;
  }
}

function elements(values: readonly string[]): string {
  return values.length === 0 ? "" : ` elements = { ${values.join(", ")} } ;`;
}

function tableBody(ruleset: Ruleset): string {
  const proto = nftFamily(ruleset.family);
  const addr = addressType(ruleset.family);
  const weights = ruleset.weights.map((w) => `${endpointValue(w.vip)} . ${endpointValue(w.destination)} : ${w.weight}`);
  const removed = ruleset.removed.map((r) => `${r.vip} . ${endpointValue(r.destination)}`);
  const parts = [
    `comment ${quoted(TABLE_COMMENT)}`,
    `map ${WEIGHTS_MAP} { type ${addr} . inet_service . ${addr} . inet_service : mark ;${elements(weights)} }`,
    `set ${REMOVED_SET} { type ${addr} . ${addr} . inet_service ;${elements(removed)} }`,
    ...rulesByChain(ruleset).map(({ chain, rules: chainRules }) => {
      const rules = chainRules.map((rule) => ` ${ruleText(rule, proto)} ;`).join("");
      return `chain ${chain.name} { type ${chain.type} hook ${chain.hook} priority ${chain.priority} ; policy accept ;${rules} }`;
    }),
  ];
  // nft's grammar wants a separator after every table-level block, the last one included.
  return parts.map((part) => `${part} ;`).join(" ");
}

/** Defence in depth: whatever validation missed, the script stays one line of plain ASCII. */
function checkOneLine(script: string): string {
  if (!/^[\x20-\x7e]*$/.test(script)) {
    throw new DataplaneError("nftables", "EINVAL", "refusing to run a transaction with a control or non-ASCII character");
  }
  return script;
}

/** Removes our table of `family`; nothing when it does not exist. */
export function renderTableDeletion(family: IpFamily): string {
  const name = `${nftFamily(family)} ${TABLE}`;
  return `table ${name} { } ; delete table ${name}`;
}

/** Replaces our table of `state.family` with exactly `state`. Throws DataplaneError (EINVAL) on invalid input. */
export function renderTableReplacement(state: NftFamilyState): string {
  validateFamilyState(state);
  const ruleset = rulesetOf(state);
  const name = `${nftFamily(state.family)} ${TABLE}`;
  return checkOneLine(`${renderTableDeletion(state.family)} ; table ${name} { ${tableBody(ruleset)} }`);
}

/** Several parts (e.g. both families) as one transaction line. */
export function joinTransaction(parts: readonly string[]): string {
  return checkOneLine(parts.join(" ; "));
}
