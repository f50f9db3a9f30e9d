// NftGenerationClient against this host's kernel (nf_tables is here, unlike IPVS), in throwaway
// network namespaces. nft itself is the independent actor: each transaction it commits must move
// the generation, a refused one and a listing must not.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { IpvsError } from '../src/errors.ts';
import { NFNL_SUBSYS_NFTABLES, NFT_MSG, NFTA_GEN } from '../src/kernel-constants.ts';
import { decodeGeneration, encodeGetGeneration, NftGenerationClient } from '../src/nftables-generation.ts';
import { frameRequest } from '../src/nlmsg.ts';
import { createNetns, deleteNetns, ip } from './host-netns.ts';

const NFT = ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'].find((path) => existsSync(path));

function nft(ns: string, ...args: string[]): void {
  if (NFT === undefined) throw new Error('nft is required for these tests: apt-get install nftables');
  ip('netns', 'exec', ns, NFT, ...args);
}

/** An NFT_MSG_NEWGEN as the kernel builds it (nf_tables_fill_gen_info), generation `id`. */
function newGenMessage(id: number): Buffer {
  const name = Buffer.from('nft\0');
  const attrs = Buffer.alloc(8 + 8 + 4 + name.length);
  attrs.writeUInt16LE(8, 0);
  attrs.writeUInt16LE(NFTA_GEN.ID, 2);
  attrs.writeUInt32BE(id, 4);
  attrs.writeUInt16LE(8, 8);
  attrs.writeUInt16LE(NFTA_GEN.PROC_PID, 10);
  attrs.writeUInt32BE(1234, 12);
  attrs.writeUInt16LE(4 + name.length, 16);
  attrs.writeUInt16LE(NFTA_GEN.PROC_NAME, 18);
  name.copy(attrs, 20);
  const message = Buffer.alloc(16 + 4 + attrs.length);
  message.writeUInt32LE(message.length, 0);
  message.writeUInt16LE((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG.NEWGEN, 4);
  attrs.copy(message, 20);
  return message;
}

describe('nf_tables generation codec', () => {
  it('asks for the generation with an nfgenmsg of no family and version 0', () => {
    const framed = frameRequest((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG.GETGEN, encodeGetGeneration(), 7);
    assert.equal(framed.toString('hex'), '14000000100a05000700000000000000' + '00000000');
  });

  it('reads NFTA_GEN_ID in network byte order', () => {
    const message = newGenMessage(0x01020304);
    assert.equal(decodeGeneration(message, { offset: 0, length: message.length, type: message.readUInt16LE(4) }), 0x01020304);
  });

  it('ignores other messages and refuses a truncated one', () => {
    const message = newGenMessage(5);
    assert.equal(decodeGeneration(message, { offset: 0, length: message.length, type: 3 }), undefined);
    assert.throws(() => decodeGeneration(message, { offset: 0, length: 18, type: message.readUInt16LE(4) }), IpvsError);
    const noId = newGenMessage(5);
    noId.writeUInt16LE(99, 16 + 4 + 2); // NFTA_GEN_ID becomes an unknown type
    assert.throws(() => decodeGeneration(noId, { offset: 0, length: noId.length, type: noId.readUInt16LE(4) }), /attribute 1 is missing/);
  });
});

describe('NftGenerationClient in a network namespace', () => {
  let ns: string;
  let client: NftGenerationClient;

  before(() => {
    ns = createNetns('nftgen');
    client = NftGenerationClient.open({ netns: ns });
  });

  after(() => {
    client.close();
    deleteNetns(ns);
  });

  it('stays put while nothing is committed, listings included', () => {
    const first = client.generation();
    assert.equal(client.generation(), first);
    nft(ns, 'list', 'ruleset');
    assert.equal(client.generation(), first);
  });

  it('moves with every committed transaction, and only then', () => {
    const before = client.generation();
    nft(ns, 'add', 'table', 'ip', 'gen-test');
    const afterAdd = client.generation();
    assert.notEqual(afterAdd, before);
    assert.throws(() => nft(ns, 'add', 'chain', 'ip', 'no-such-table', 'c'));
    assert.equal(client.generation(), afterAdd, 'a refused transaction commits nothing');
    nft(ns, 'flush', 'ruleset');
    assert.notEqual(client.generation(), afterAdd);
  });

  it('is per network namespace', () => {
    const other = createNetns('nftgen');
    try {
      const otherClient = NftGenerationClient.open({ netns: other });
      try {
        const mine = client.generation();
        nft(other, 'add', 'table', 'ip', 'elsewhere');
        assert.equal(client.generation(), mine);
        otherClient.generation();
      } finally {
        otherClient.close();
      }
    } finally {
      deleteNetns(other);
    }
  });

  it('fails with a typed error once closed', () => {
    const closed = NftGenerationClient.open({ netns: ns });
    closed.close();
    assert.throws(() => closed.generation(), (err: unknown) => err instanceof IpvsError && err.code === 'EBADF');
  });
});
