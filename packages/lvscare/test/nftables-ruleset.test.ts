// The nftables engine's pure parts: scheduler slots, validation, the transaction text, the
// expected listing and its parser, the removed set, nft's error output. The same pieces run
// against the real nft in test/nftables/*.test.ts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Endpoint, parseEndpoint } from "../src/address.ts";
import { isDataplaneError } from "../src/dataplane/error.ts";
import {
  expectedListing,
  identicalFamilyState,
  type NftFamilyState,
  type NftVirtualServer,
  nftFailure,
  parseNftErrors,
  parseTable,
  renderTableDeletion,
  renderTableReplacement,
  rulesetOf,
  sameFamilyState,
  slotsFor,
  withRemovals,
} from "../src/dataplane/nftables/index.ts";
import type { ListingItem } from "../src/dataplane/nftables/listing.ts";

const ep = (text: string): Endpoint => parseEndpoint(text, "test");
const VIP = ep("10.103.97.2:6443");
const M1 = ep("10.0.0.1:6443");
const M2 = ep("10.0.0.2:6443");
const M3 = ep("10.0.0.3:6443");

function vs(address: Endpoint, scheduler: NftVirtualServer["scheduler"], destinations: Array<[Endpoint, number]>): NftVirtualServer {
  return { address, scheduler, destinations: destinations.map(([d, weight]) => ({ address: d, weight })) };
}

function state(virtualServers: NftVirtualServer[], extra: Partial<NftFamilyState> = {}): NftFamilyState {
  return { family: virtualServers[0]?.address.family ?? 4, virtualServers, masquerade: [], removed: [], ...extra };
}

/** What `nft -j list table` prints: the expected items plus handles and metainfo. */
function listingOf(items: ListingItem[]): unknown {
  return {
    nftables: [
      { metainfo: { version: "1.0.6", release_name: "Lester Gooch #5", json_schema_version: 1 } },
      ...items.map((item, i) => ({ [item.kind]: { ...item.body, handle: i + 1 } })),
    ],
  };
}

function assertInvalid(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => isDataplaneError(err, "EINVAL") && pattern.test((err as Error).message));
}

describe("nftables scheduler slots", () => {
  const dests = [
    { address: M1, weight: 2 },
    { address: M2, weight: 0 },
    { address: M3, weight: 4 },
  ];

  it("rr and lc give every live destination one slot; weight 0 gets none", () => {
    for (const scheduler of ["rr", "lc", "dh"] as const) {
      assert.deepEqual(slotsFor(scheduler, dests), {
        modulus: 2,
        slots: [
          { from: 0, to: 0, destination: M1 },
          { from: 1, to: 1, destination: M3 },
        ],
      });
    }
  });

  it("wrr, wlc and sh give slots in proportion to the weights, divided by their gcd", () => {
    for (const scheduler of ["wrr", "wlc", "sh"] as const) {
      assert.deepEqual(slotsFor(scheduler, dests), {
        modulus: 3,
        slots: [
          { from: 0, to: 0, destination: M1 },
          { from: 1, to: 2, destination: M3 },
        ],
      });
    }
  });

  it("a rotation starts slot 0 at that live destination and keeps the order, wrapping", () => {
    assert.deepEqual(slotsFor("wrr", dests, 1), {
      modulus: 3,
      slots: [
        { from: 0, to: 1, destination: M3 },
        { from: 2, to: 2, destination: M1 },
      ],
    });
    assert.deepEqual(slotsFor("rr", [...dests, { address: ep("10.0.0.4:6443"), weight: 1 }], 2)?.slots.map((s) => s.destination), [
      ep("10.0.0.4:6443"),
      M1,
      M3,
    ]);
  });

  it("no live destination: no slots", () => {
    assert.equal(slotsFor("wrr", [{ address: M1, weight: 0 }]), undefined);
    assert.equal(slotsFor("rr", []), undefined);
  });
});

describe("nftables transaction text", () => {
  it("replaces the table whole, on one line, with one rule per VIP", () => {
    const script = renderTableReplacement(state([vs(VIP, "wrr", [[M1, 1], [M2, 2]]), vs(ep("10.103.97.3:443"), "rr", [[M3, 0]])], { masquerade: [VIP] }));
    assert.ok(!script.includes("\n"));
    assert.ok(script.startsWith("table ip lvscare { } ; delete table ip lvscare ; table ip lvscare { "), script);
    assert.ok(
      script.includes(
        'ip daddr 10.103.97.2 tcp dport 6443 dnat ip to numgen inc mod 3 map { 0 : 10.0.0.1 . 6443, 1-2 : 10.0.0.2 . 6443 } comment "lvscare vip=10.103.97.2:6443 scheduler=wrr"',
      ),
      script,
    );
    assert.ok(script.includes('ip daddr 10.103.97.3 tcp dport 443 ct state new reject with tcp reset comment "lvscare vip=10.103.97.3:443 scheduler=rr"'));
    assert.ok(script.includes("ct original ip daddr 10.103.97.2 ct original proto-dst 6443 masquerade"));
    assert.ok(script.includes("chain nat-output { type nat hook output priority -101 ; policy accept ;"));
    assert.ok(script.includes("elements = { 10.103.97.2 . 6443 . 10.0.0.1 . 6443 : 1, 10.103.97.2 . 6443 . 10.0.0.2 . 6443 : 2, 10.103.97.3 . 443 . 10.0.0.3 . 6443 : 0 }"));
  });

  it("IPv6 uses the ip6 family, ip6 payloads and a fixed jhash seed for sh", () => {
    const vip = ep("[fd00::2]:6443");
    const script = renderTableReplacement(state([vs(vip, "sh", [[ep("[fd00::11]:6443"), 1]])]));
    assert.ok(script.includes("table ip6 lvscare {"));
    assert.ok(script.includes("ip6 daddr fd00::2 tcp dport 6443 dnat ip6 to jhash ip6 saddr mod 1 seed 0x6c7663 map { 0 : fd00::11 . 6443 }"), script);
  });

  it("deleting creates first, so it works whether or not the table exists", () => {
    assert.equal(renderTableDeletion(6), "table ip6 lvscare { } ; delete table ip6 lvscare");
  });

  it("refuses every value that is not what it claims to be, before rendering anything", () => {
    const bad = (endpoint: Partial<Endpoint>): Endpoint => ({ ...M1, ...endpoint });
    assertInvalid(() => renderTableReplacement(state([vs(bad({ ip: "10.0.0.1 ; flush ruleset" }), "rr", [])])), /not an IP address/);
    assertInvalid(() => renderTableReplacement(state([vs(VIP, "rr", [[bad({ ip: '10.0.0.1" }' }), 1]])])), /not an IP address/);
    assertInvalid(() => renderTableReplacement(state([vs(VIP, "rr", [[bad({ ip: "fd00::1" }), 1]])])), /not an IPv4 address/);
    assertInvalid(() => renderTableReplacement(state([vs(VIP, "rr", [[bad({ ip: "FD00::1", family: 6 }), 1]])])), /canonical/);
    assertInvalid(() => renderTableReplacement(state([vs(VIP, "rr", [[bad({ port: 0 }), 1]])])), /port 0/);
    assertInvalid(() => renderTableReplacement(state([vs(VIP, "rr", [[bad({ port: 6443.5 }), 1]])])), /port 6443.5/);
    assertInvalid(() => renderTableReplacement(state([vs(VIP, "rr", [[M1, 65536]])])), /weight 65536/);
    assertInvalid(() => renderTableReplacement(state([vs(VIP, "rr", [[M1, -1]])])), /weight -1/);
    assertInvalid(() => renderTableReplacement(state([vs(VIP, "rr ; flush ruleset" as "rr", [])])), /scheduler/);
    assertInvalid(() => renderTableReplacement(state([vs(VIP, "rr", [[M1, 1], [M1, 2]])])), /appears twice/);
    assertInvalid(() => renderTableReplacement(state([vs(VIP, "rr", []), vs(VIP, "wrr", [])])), /appears twice/);
    assertInvalid(() => renderTableReplacement(state([], { family: 4, masquerade: [ep("[fd00::2]:6443")] })), /IPv4/);
    assertInvalid(() => renderTableReplacement(state([], { family: 4, removed: [{ vip: "10.103.97.2; x", destination: M1 }] })), /not an IP address/);
    assertInvalid(() => renderTableReplacement(state([{ ...vs(VIP, "rr", [[M1, 1], [M2, 0]]), rotation: 1 }])), /rotation 1 is not an integer from 0 to 0/);
    assertInvalid(() => renderTableReplacement(state([{ ...vs(VIP, "rr", [[M1, 1], [M2, 1]]), rotation: 0.5 }])), /rotation 0.5/);
    assertInvalid(() => renderTableReplacement(state([{ ...vs(VIP, "lc", [[M1, 1], [M2, 1]]), rotation: 1 }])), /scheduler lc has no rotation/);
  });

  it("a rotation moves slot 0, nothing else", () => {
    const script = renderTableReplacement(state([{ ...vs(VIP, "wrr", [[M1, 1], [M2, 2]]), rotation: 1 }]));
    assert.ok(script.includes("numgen inc mod 3 map { 0-1 : 10.0.0.2 . 6443, 2 : 10.0.0.1 . 6443 }"), script);
  });
});

describe("nftables listing parser", () => {
  const samples: NftFamilyState[] = [
    state([vs(VIP, "wrr", [[M1, 1], [M2, 2], [M3, 0]]), vs(ep("10.103.97.3:443"), "lc", [[M3, 0]])], {
      masquerade: [VIP],
      removed: [{ vip: "10.103.97.2", destination: ep("10.0.0.9:6443") }],
    }),
    state([vs(ep("[fd00::2]:6443"), "sh", [[ep("[::ffff:a00:1]:6443"), 3], [ep("[2001:db8::]:6443"), 1]])]),
    state([], { family: 6, removed: [{ vip: "fd00::2", destination: ep("[fd00::11]:6443") }] }),
    state([{ ...vs(VIP, "rr", [[M3, 1], [M1, 0], [M2, 1], [ep("10.0.0.4:6443"), 1]]), rotation: 2 }, { ...vs(ep("10.103.97.3:443"), "wrr", [[M1, 1], [M2, 3]]), rotation: 1 }]),
    state([{ ...vs(ep("[fd00::2]:6443"), "rr", [[ep("[fd00::11]:6443"), 1], [ep("[fd00::12]:6443"), 1]]), rotation: 1 }]),
  ];

  it("reads back exactly the model the table was rendered from, rotations included", () => {
    for (const sample of samples) {
      const parsed = parseTable(listingOf(expectedListing(rulesetOf(sample))), sample.family);
      assert.equal(parsed.status, "intact", JSON.stringify(parsed));
      assert.ok(parsed.status === "intact" && identicalFamilyState(parsed.state, sample), JSON.stringify(parsed));
    }
  });

  it("a rotation is not content: the same table needs no rewrite, but is not identical", () => {
    const plain = state([vs(VIP, "rr", [[M1, 1], [M2, 1]])]);
    const rotated = state([{ ...vs(VIP, "rr", [[M1, 1], [M2, 1]]), rotation: 1 }]);
    assert.ok(sameFamilyState(plain, rotated));
    assert.ok(!identicalFamilyState(plain, rotated));
    assert.ok(identicalFamilyState(plain, state([{ ...vs(VIP, "rr", [[M2, 1], [M1, 1]]), rotation: 0 }])));
  });

  it("ignores what does not change the table: handles, element order, nft's spelling of v4-mapped IPv6, the table comment", () => {
    const sample = samples[1]!;
    const items = expectedListing(rulesetOf(sample)).map((item) =>
      item.kind === "table" ? { ...item, body: { ...item.body, comment: "anything" } } : item,
    );
    const listing = JSON.parse(JSON.stringify(listingOf(items)).replaceAll("::ffff:a00:1", "::ffff:10.0.0.1")) as { nftables: Array<Record<string, { elem?: unknown[] }>> };
    for (const entry of listing.nftables) entry.map?.elem?.reverse();
    assert.equal(parseTable(listing, 6).status, "intact");
  });

  it("calls a table damaged when anything is missing, added or edited, and says what", () => {
    const sample = samples[0]!;
    const items = expectedListing(rulesetOf(sample));
    const without = (kind: string, name: string) => items.filter((i) => !(i.kind === kind && (i.body.name === name || i.body.chain === name)));
    const cases: Array<[ListingItem[], RegExp]> = [
      [without("chain", "filter-output-post-dnat"), /filter-output-post-dnat/],
      [without("map", "weights"), /map weights is missing/],
      [[...items, { kind: "rule", body: { family: "ip", table: "lvscare", chain: "nat-output", expr: [{ accept: null }] } }], /nat-output is not ours/],
      [[...items, { kind: "chain", body: { family: "ip", table: "lvscare", name: "output", type: "nat", hook: "output", prio: -100, policy: "accept" } }], /chain output is not ours/],
      [
        items.map((i) => (i.kind === "rule" && i.body.chain === "nat-output" ? { ...i, body: JSON.parse(JSON.stringify(i.body).replace('"10.0.0.2"', '"10.0.0.7"')) } : i)),
        /nat-output .*missing or differs/,
      ],
      [
        items.map((i) => (i.kind === "map" ? { ...i, body: JSON.parse(JSON.stringify(i.body).replace('"10.103.97.3",443', '"10.103.97.4",443')) } : i)),
        /10.103.97.4 443, which has no rule/,
      ],
      [
        items.map((i) => (i.kind === "rule" && i.body.chain === "filter-output" ? { ...i, body: { ...i.body, comment: "lvscare vip=10.103.97.3:443 scheduler=fo" } } : i)),
        /unknown scheduler fo/,
      ],
    ];
    for (const [damagedItems, reason] of cases) {
      const parsed = parseTable(listingOf(damagedItems), 4);
      assert.equal(parsed.status, "damaged");
      assert.match(parsed.status === "damaged" ? parsed.reason : "", reason);
    }
    assert.deepEqual(parseTable({ tables: [] }, 4), { status: "damaged", reason: "the listing is not nft's JSON" });
  });
});

describe("nftables removed set", () => {
  const before = state([vs(VIP, "rr", [[M1, 1], [M2, 0], [M3, 1]])], { removed: [{ vip: VIP.ip, destination: ep("10.0.0.9:6443") }] });
  const next = (virtualServers: NftVirtualServer[]) => ({ family: 4 as const, virtualServers, masquerade: [] });

  it("a deleted destination joins it; a quiesced one does not; earlier entries stay", () => {
    const after = withRemovals(before, next([vs(VIP, "rr", [[M1, 1], [M2, 0]])]));
    assert.deepEqual(
      after.removed.map((r) => `${r.vip} ${r.destination.ip}`),
      ["10.103.97.2 10.0.0.9", "10.103.97.2 10.0.0.3"],
    );
  });

  it("a re-added destination leaves it, at any weight; a deleted VIP's destinations all join it", () => {
    assert.deepEqual(withRemovals(before, next([vs(VIP, "rr", [[M1, 1], [M2, 0], [M3, 1], [ep("10.0.0.9:6443"), 0]])])).removed, []);
    assert.equal(withRemovals(before, next([])).removed.length, 4);
  });

  it("unknown previous state (a damaged table): nothing to carry over", () => {
    assert.deepEqual(withRemovals(undefined, next([vs(VIP, "rr", [[M1, 1]])])).removed, []);
  });
});

describe("nft error output", () => {
  // Captured from nft 1.0.6 (LC_ALL=C), `nft -f -` and `nft -j -i`.
  const fromFile =
    "/dev/stdin:1:32-38: Error: Could not process rule: No such file or directory\n" +
    "table ip t { } ; add rule ip t nochain accept ; add table ip u\n" +
    "                               ^^^^^^^\n";
  const fromInteractive =
    "Error: No such file or directory\n" + "flush chain ip t c ; delete element ip t s { 1.2.3.4 }\n" + "                                       ^";
  const syntax =
    "/dev/stdin:1:16-20: Error: syntax error, unexpected string\ntable ip t { ; bogus\n               ^^^^^\n" +
    "/dev/stdin:2:1-1: Error: syntax error, unexpected end of file\ntable ip t { ; bogus\n^\n";

  it("names the message and the one command nft pointed at", () => {
    assert.deepEqual(parseNftErrors(fromFile), [{ message: "Could not process rule: No such file or directory", command: "add rule ip t nochain accept" }]);
    assert.deepEqual(parseNftErrors(fromInteractive), [{ message: "No such file or directory", command: "delete element ip t s { 1.2.3.4 }" }]);
  });

  it("a caret line without its newline does not swallow the next error", () => {
    const glued = `${fromInteractive}${fromFile}`;
    assert.equal(parseNftErrors(glued).length, 2);
  });

  it("becomes one line with an errno name; later errors are only counted", () => {
    const err = nftFailure("nft transaction", fromFile, "exit 1");
    assert.equal(err.code, "ENOENT");
    assert.equal(
      err.message,
      "nft transaction: nft refused it, nothing was changed: Could not process rule: No such file or directory (in: add rule ip t nochain accept) (ENOENT)",
    );
    const syntaxErr = nftFailure("nft transaction", syntax, "exit 1");
    assert.equal(syntaxErr.code, "EINVAL");
    assert.match(syntaxErr.message, /syntax error, unexpected string \(in: bogus\) \(\+1 more\)/);
    assert.equal(nftFailure("x", "", "exit status 1").message, "x: nft failed: exit status 1 (EIO)");
  });
});
