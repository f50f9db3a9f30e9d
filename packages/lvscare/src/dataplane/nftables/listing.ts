/**
 * `nft -j list table` output: its shape, and the canonical form two listings are compared in.
 * A listing is a list of one-key objects (`{"table": ...}`, `{"map": ...}`, `{"chain": ...}`,
 * `{"rule": ...}`, ...). The canonical form drops what changes with every rewrite or between nft
 * versions without changing what the table does (handles, metainfo, the table's comment), writes
 * IPv6 addresses the one way address.ts does (nft prints v4-mapped ones dotted), and ignores the
 * order of set elements and of declarations, but never the order of rules within a chain.
 */
import { canonicalIp } from "../../address.ts";

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** One `{"kind": body}` entry of a listing. */
export interface ListingItem {
  readonly kind: string;
  readonly body: JsonObject;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The items of a listing, or undefined when `listing` is not shaped like nft's JSON output. */
export function listingItems(listing: unknown): ListingItem[] | undefined {
  if (!isJsonObject(listing) || !Array.isArray(listing.nftables)) return undefined;
  const items: ListingItem[] = [];
  for (const entry of listing.nftables) {
    if (!isJsonObject(entry)) return undefined;
    const keys = Object.keys(entry);
    const kind = keys[0];
    if (keys.length !== 1 || kind === undefined) return undefined;
    const body = entry[kind];
    if (!isJsonObject(body)) return undefined;
    if (kind !== "metainfo") items.push({ kind, body });
  }
  return items;
}

function canonicalValue(value: JsonValue, key: string | undefined): JsonValue {
  if (typeof value === "string") {
    const ip = value.includes(":") ? canonicalIp(value) : undefined;
    return ip === undefined ? value : ip.ip;
  }
  if (Array.isArray(value)) {
    const items = value.map((v) => canonicalValue(v, undefined));
    // Element order is the kernel's (hash or tree order), not ours.
    if (key === "elem" || key === "set") items.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
    return items;
  }
  if (isJsonObject(value)) {
    const out: JsonObject = {};
    for (const k of Object.keys(value).sort()) out[k] = canonicalValue(value[k] as JsonValue, k);
    return out;
  }
  return value;
}

/** The canonical text of one item. */
export function canonicalItem(item: ListingItem): string {
  const body: JsonObject = { ...item.body };
  delete body.handle;
  if (item.kind === "table") delete body.comment;
  return JSON.stringify({ [item.kind]: canonicalValue(body, undefined) });
}

/** Declarations in any order; rules in their order, per chain. */
export function canonicalListing(items: readonly ListingItem[]): { declarations: string[]; rules: Map<string, string[]> } {
  const declarations: string[] = [];
  const rules = new Map<string, string[]>();
  for (const item of items) {
    const text = canonicalItem(item);
    if (item.kind !== "rule") {
      declarations.push(text);
      continue;
    }
    const chain = String(item.body.chain);
    rules.set(chain, [...(rules.get(chain) ?? []), text]);
  }
  declarations.sort();
  return { declarations, rules };
}

function describeItem(text: string): string {
  const parsed = JSON.parse(text) as JsonObject;
  const [kind] = Object.keys(parsed);
  const body = parsed[kind ?? ""] as JsonObject;
  if (kind === "rule") return `a rule in chain ${String(body.chain)}${typeof body.comment === "string" ? ` (${body.comment})` : ""}`;
  return `${kind ?? "item"} ${String(body.name ?? "")}`.trim();
}

/** Undefined when both listings are the same table, else the first difference in words. */
export function listingDifference(expected: readonly ListingItem[], actual: readonly ListingItem[]): string | undefined {
  const want = canonicalListing(expected);
  const have = canonicalListing(actual);
  const haveDeclarations = new Set(have.declarations);
  const wantDeclarations = new Set(want.declarations);
  const missing = want.declarations.find((d) => !haveDeclarations.has(d));
  if (missing !== undefined) return `${describeItem(missing)} is missing or differs`;
  const extra = have.declarations.find((d) => !wantDeclarations.has(d));
  if (extra !== undefined) return `${describeItem(extra)} is not ours`;
  for (const chain of new Set([...want.rules.keys(), ...have.rules.keys()])) {
    const a = want.rules.get(chain) ?? [];
    const b = have.rules.get(chain) ?? [];
    const index = a.findIndex((rule, i) => rule !== b[i]);
    if (index >= 0) return `${describeItem(a[index] as string)} is missing or differs`;
    if (b.length > a.length) return `${describeItem(b[a.length] as string)} is not ours`;
  }
  return undefined;
}
