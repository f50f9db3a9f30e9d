// The nftables engine when things go wrong, on the host's kernel in namespaces: a flushed or
// edited table, a failing transaction, a wedged nft -i, a restarted daemon, bad input.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isDataplaneError } from '@lvscare/lvscare';
import { applyOps, ExecNftRunner, InteractiveNftRunner, isNextGeneration, openGenerationCheck, ipvsLinkModeTableScript, type NftOp, NftOpRefused, NftProcessLostError, type NftRunner } from '@lvscare/lvscare/nftables';
import { buildNftCluster, desired, type NftCluster, VIP4, virtualServer } from './lib.ts';

/** Our table as nft lists it, handles included: a rewrite changes them. */
async function tableListing(c: NftCluster): Promise<string> {
  return c.nft(['-a', 'list', 'table', 'ip', 'lvscare']);
}

describe('nftables dataplane: self-healing, atomicity, restarts', () => {
  let c: NftCluster;
  before(async () => {
    c = await buildNftCluster({ masters: 2 });
  });
  after(async () => {
    await c?.destroy();
  });
  const both = () => desired([virtualServer(VIP4, 'rr', [[c.master(1), 1], [c.master(2), 1]])]);

  it('nft flush ruleset: the next read says absent, the next apply restores the table and the VIP', async () => {
    await c.backend.apply(both());
    await c.nft(['flush', 'ruleset']);
    assert.equal((await c.agent.open(VIP4, 2_000)).code, 'TIMEOUT');
    const read = await c.backend.read(4);
    assert.equal(read.status, 'absent');
    assert.deepEqual(read.state.virtualServers, []);
    assert.deepEqual((await c.backend.apply(both())).rewritten, [4]);
    assert.deepEqual(await c.agent.burst(VIP4, 4), { servers: { master1: 2, master2: 2 }, errors: {} });
  });

  it('a deleted table, a deleted chain or a foreign rule reads as damaged, and the next apply rewrites the table', async () => {
    const edits: Array<[string[], RegExp]> = [
      [['delete', 'table', 'ip', 'lvscare'], /./],
      [['delete', 'chain', 'ip', 'lvscare', 'filter-output-post-dnat'], /filter-output-post-dnat/],
      [['add', 'rule', 'ip', 'lvscare', 'nat-output', 'ip', 'daddr', '192.0.2.1', 'drop'], /nat-output is not ours/],
      [['flush', 'chain', 'ip', 'lvscare', 'nat-output'], /10.103.97.2 6443, which has no rule/],
    ];
    for (const [edit, reason] of edits) {
      await c.backend.apply(both());
      await c.nft(edit);
      const read = await c.backend.read(4);
      assert.notEqual(read.status, 'intact', edit.join(' '));
      if (read.status === 'damaged') assert.match(read.reason ?? '', reason);
      assert.deepEqual(read.state.virtualServers, []);
      assert.deepEqual((await c.backend.apply(both())).rewritten, [4]);
      assert.equal((await c.backend.read(4)).status, 'intact');
      assert.deepEqual(await c.agent.burst(VIP4, 2), { servers: { master1: 1, master2: 1 }, errors: {} });
    }
  });

  it('the IPVS dataplane\'s link-mode table of the same name is taken over whole', async () => {
    await c.backend.read(4);
    await c.worker.netns.exec(['nft', '-f', '-'], { input: ipvsLinkModeTableScript({ vip: VIP4.ip, port: VIP4.port, family: 4, masqueradeBit: 0 }) });
    const read = await c.backend.read(4);
    assert.equal(read.status, 'damaged');
    await c.backend.apply(both());
    const listing = await tableListing(c);
    assert.doesNotMatch(listing, /chain (output|prerouting|postrouting) /);
    assert.equal((await c.backend.read(4)).status, 'intact');
  });

  it('a transaction that fails changes nothing: the old rules keep serving, and a later apply works', async () => {
    await c.backend.apply(both());
    const before = await tableListing(c);
    // The engine's whole-table replacement, followed by a command the kernel refuses.
    const failing: NftRunner = {
      kind: c.backend.runner.kind,
      run: (script) => c.backend.runner.run(`${script} ; delete chain ip lvscare no-such-chain`),
      listTable: (family, name) => c.backend.runner.listTable(family, name),
      close: async () => undefined,
    };
    const faulty = await c.openBackend({ runner: failing });
    await assert.rejects(
      faulty.apply(desired([virtualServer(VIP4, 'rr', [[c.master(1), 1]])])),
      (err: unknown) => isDataplaneError(err, 'ENOENT') && /nothing was changed: .*No such file or directory \(in: delete chain ip lvscare no-such-chain\)/.test((err as Error).message),
    );
    assert.equal(await tableListing(c), before);
    assert.deepEqual(await c.agent.burst(VIP4, 4), { servers: { master1: 2, master2: 2 }, errors: {} });
    // The engine kept its old model: the read agrees with the kernel, and the removed set is empty.
    const read = await faulty.read(4);
    assert.equal(read.status, 'intact');
    assert.deepEqual(read.state.removed, []);
    assert.deepEqual((await c.backend.apply(desired([virtualServer(VIP4, 'rr', [[c.master(1), 1]])]))).rewritten, [4]);
    assert.deepEqual(await c.agent.burst(VIP4, 2), { servers: { master1: 2 }, errors: {} });
  });

  it('nft\'s refusals come back as one clear line, from both runners', async () => {
    for (const runner of [await InteractiveNftRunner.open({ netns: c.worker.netns.name }), await ExecNftRunner.open({ netns: c.worker.netns.name })]) {
      try {
        await assert.rejects(runner.run('add rule ip lvscare no-such-chain accept'), (err: unknown) => {
          assert.ok(isDataplaneError(err, 'ENOENT'), String(err));
          assert.match((err as Error).message, /^nft transaction: nft refused it, nothing was changed: Could not process rule: No such file or directory \(in: add rule ip lvscare no-such-chain accept\) \(ENOENT\)$/);
          return true;
        });
        await assert.rejects(runner.run('add rule ip lvscare nat-output bogus'), /syntax error.*\(in: add rule ip lvscare nat-output bogus\)/);
        // The runner goes on working after errors.
        assert.equal(await runner.listTable('ip', 'no-such-table'), undefined);
        assert.ok(await runner.listTable('ip', 'lvscare'));
      } finally {
        await runner.close();
      }
    }
  });

  it('a wedged (stopped) nft -i is killed at its timeout and the engine\'s transaction is sent again to a new one, which makes the change', async () => {
    const lost: string[] = [];
    const backend = await c.openBackend({ timeoutMs: 1_000, onProcessLost: (message) => lost.push(message) });
    await backend.apply(desired([virtualServer(VIP4, 'rr', [[c.master(2), 1]])]));
    const runner = backend.runner as InteractiveNftRunner;
    const pid = runner.pid;
    assert.ok(pid !== undefined);
    process.kill(pid, 'SIGSTOP');
    assert.deepEqual((await backend.apply(both())).rewritten, [4]);
    assert.equal(runner.processesStarted, 2);
    assert.notEqual(runner.pid, pid);
    assert.equal(lost.length, 2, lost.join('\n'));
    assert.match(lost[0]!, new RegExp(`^nftables: \`table ip lvscare \\{ \\} ; delete table ip lvscare ; .*\`: nft -i \\(pid ${pid}\\) did not finish the command within 1000 ms \\(stopped, starved or stuck\\); killed it; retrying it on a new nft -i$`));
    assert.match(lost[1]!, /^nftables: the retry of `table ip lvscare .*` on a new nft -i \(pid \d+\) answered$/);
    assert.deepEqual(await c.agent.burst(VIP4, 2), { servers: { master1: 1, master2: 1 }, errors: {} });
  });

  it('a command that is not idempotent is not sent twice: nft lost during it fails it as NftProcessLostError, and the runner goes on', async () => {
    const lost: string[] = [];
    const runner = await InteractiveNftRunner.open({ netns: c.worker.netns.name, timeoutMs: 1_000, onProcessLost: (message) => lost.push(message) });
    try {
      await runner.listTable('ip', 'lvscare');
      process.kill(runner.pid!, 'SIGSTOP');
      await assert.rejects(
        runner.run('add table ip lvscare-probe'),
        (err: unknown) => err instanceof NftProcessLostError && isDataplaneError(err, 'ETIMEDOUT') && /did not finish the command within 1000 ms/.test(err.message),
      );
      assert.equal(runner.processesStarted, 1);
      assert.match(lost[0]!, /^nftables: `add table ip lvscare-probe`: .*; not retried \(not idempotent\): its outcome is unknown$/);
      // The stopped nft never read it, and nobody sent it again: no such table.
      assert.equal(await runner.listTable('ip', 'lvscare-probe'), undefined);
      assert.equal(runner.processesStarted, 2);
    } finally {
      await runner.close();
    }
  });

  it('nft -i is replaced after recycleAfter commands and keeps working', async () => {
    // Without the change check: every read is an nft command here.
    const backend = await c.openBackend({ recycleAfter: 3, changeCheck: 'none' });
    for (let i = 0; i < 4; i += 1) assert.equal((await backend.read(4)).status, 'intact');
    assert.equal((backend.runner as InteractiveNftRunner).processesStarted, 2);
  });

  it('reads list the table only after a commit: unchanged generation, no nft command; ours, someone else\'s or a flush, a new listing', async () => {
    const backend = await c.openBackend();
    await backend.apply(both());
    const stats = { ...backend.readStats };
    for (let i = 0; i < 5; i += 1) assert.equal((await backend.read(4)).status, 'intact');
    assert.deepEqual(backend.readStats, { unchanged: stats.unchanged + 5, listed: stats.listed }, 'no listing while nothing was committed');
    // Someone else's table: the ruleset changed, ours did not; one listing finds it intact.
    await c.nft(['add', 'table', 'ip', 'unrelated']);
    assert.equal((await backend.read(4)).status, 'intact');
    assert.equal(backend.readStats.listed, stats.listed + 1);
    assert.equal((await backend.read(4)).status, 'intact');
    assert.equal(backend.readStats.listed, stats.listed + 1);
    // A flush, then a hand edit after our restore: each seen on the next read.
    await c.nft(['flush', 'ruleset']);
    assert.equal((await backend.read(4)).status, 'absent');
    await backend.apply(both());
    assert.equal((await backend.read(4)).status, 'intact');
    await c.nft(['add', 'rule', 'ip', 'lvscare', 'nat-output', 'ip', 'daddr', '192.0.2.1', 'drop']);
    assert.equal((await backend.read(4)).status, 'damaged');
    // Another engine's apply (a second daemon, a restarted one) is a commit like any other.
    const other = await c.openBackend();
    await other.apply(desired([virtualServer(VIP4, 'rr', [[c.master(2), 1]])]));
    assert.deepEqual((await backend.read(4)).state.virtualServers, [virtualServer(VIP4, 'rr', [[c.master(2), 1]])]);
    await backend.apply(both());
  });

  it('the generation after ours: one more, 0 skipped when the u32 wraps, nothing known when either is unknown', () => {
    assert.equal(isNextGeneration(41, 42), true);
    assert.equal(isNextGeneration(41, 43), false);
    assert.equal(isNextGeneration(41, 41), false);
    assert.equal(isNextGeneration(0xffff_ffff, 1), true);
    assert.equal(isNextGeneration(0xffff_ffff, 0), false);
    assert.equal(isNextGeneration(undefined, 1), false);
    assert.equal(isNextGeneration(1, undefined), false);
  });

  it('an apply lists the table afterwards until the parser has read it back; then only when another commit raced ours or a read found it damaged', async () => {
    const one = desired([virtualServer(VIP4, 'rr', [[c.master(1), 1]])]);
    const backend = await c.openBackend();
    await backend.apply(desired([]));
    await backend.apply(both());
    assert.deepEqual(backend.applyStats, { unlisted: 1, listed: 1 }, 'the first apply lists (the parser has not yet read this nft), the second need not');
    assert.deepEqual((await backend.apply(one)).rewritten, [4]);
    assert.deepEqual(backend.applyStats, { unlisted: 2, listed: 1 }, 'ours was the only commit: no listing');
    const reads = { ...backend.readStats };
    assert.deepEqual((await backend.read(4)).state.virtualServers, one.virtualServers);
    assert.deepEqual(backend.readStats, { ...reads, unchanged: reads.unchanged + 1 }, 'the next read trusts the unlisted apply');
    assert.deepEqual(await c.agent.burst(VIP4, 3), { servers: { master1: 3 }, errors: {} }, 'the kernel has what the model says');
    // Someone else commits between our commit and the generation read: list, and see both.
    const real = await c.openBackend();
    let raceCount = 0;
    const racing: NftRunner = {
      kind: real.runner.kind,
      run: async (script, options) => {
        await real.runner.run(script, options);
        raceCount += 1; // a new table each time: re-adding one that exists commits nothing
        await c.nft(['add', 'table', 'ip', `raced${String(raceCount)}`]);
      },
      listTable: (family, name) => real.runner.listTable(family, name),
      close: () => real.runner.close(),
    };
    const raced = await c.openBackend({ runner: racing, changeCheck: openGenerationCheck(c.worker.netns.name, () => undefined) });
    await raced.apply(both());
    await raced.apply(one);
    assert.deepEqual(raced.applyStats, { unlisted: 0, listed: 2 }, 'the generation moved by two: listed');
    for (let i = 1; i <= raceCount; i += 1) await c.nft(['delete', 'table', 'ip', `raced${String(i)}`]);
    // A hand edit read as damaged: the next apply lists again (the parser may no longer follow nft).
    await backend.apply(both());
    await c.nft(['add', 'rule', 'ip', 'lvscare', 'nat-output', 'ip', 'daddr', '192.0.2.1', 'drop']);
    assert.equal((await backend.read(4)).status, 'damaged');
    const applies = { ...backend.applyStats };
    await backend.apply(both());
    assert.deepEqual(backend.applyStats, { ...applies, listed: applies.listed + 1 });
    assert.equal((await backend.read(4)).status, 'intact');
    await backend.apply(one);
    assert.deepEqual(backend.applyStats, { unlisted: applies.unlisted + 1, listed: applies.listed + 1 });
    await backend.apply(both());
  });

  it('a generation that cannot be read: a warning, and every read lists until it can be read again', async () => {
    const warnings: string[] = [];
    const missing = openGenerationCheck('lvscare-no-such-netns', (m) => warnings.push(m));
    assert.equal(missing.generation(), undefined);
    assert.match(warnings.join('\n'), /^nftables change check unavailable \(.*lvscare-no-such-netns.*\): every pass lists our tables through nft$/);
    const real = openGenerationCheck(c.worker.netns.name, (m) => warnings.push(m));
    let broken = true;
    const flaky = { generation: () => (broken ? undefined : real.generation()), close: () => real.close() };
    const backend = await c.openBackend({ changeCheck: flaky });
    await backend.read(4);
    await backend.read(4);
    assert.deepEqual(backend.readStats, { unchanged: 0, listed: 2 });
    broken = false;
    await backend.read(4);
    await backend.read(4);
    assert.deepEqual(backend.readStats, { unchanged: 1, listed: 3 });
  });

  it('with changeCheck none, every read is a listing', async () => {
    const backend = await c.openBackend({ changeCheck: 'none' });
    await backend.read(4);
    await backend.read(4);
    assert.deepEqual(backend.readStats, { unchanged: 0, listed: 2 });
  });

  it('restart adoption: a new engine reads the table back, finds it intact and changes nothing', async () => {
    const wanted = desired([virtualServer(VIP4, 'wrr', [[c.master(1), 3], [c.master(2), 0]])], [VIP4]);
    await c.backend.apply(wanted);
    await c.backend.apply(desired([virtualServer(VIP4, 'wrr', [[c.master(1), 3]])], [VIP4]));
    await c.backend.apply(wanted);
    const before = await tableListing(c);
    const restarted = await c.openBackend();
    const read = await restarted.read(4);
    assert.equal(read.status, 'intact');
    assert.deepEqual(read.state.virtualServers, [virtualServer(VIP4, 'wrr', [[c.master(1), 3], [c.master(2), 0]])]);
    assert.deepEqual(read.state.masquerade, [VIP4]);
    assert.deepEqual((await restarted.apply(wanted)).rewritten, []);
    assert.equal(await tableListing(c), before);
    // It adopted the removed set too: removing master1 now adds to it.
    await restarted.apply(desired([virtualServer(VIP4, 'wrr', [[c.master(2), 0]])], [VIP4]));
    assert.deepEqual((await restarted.read(4)).state.removed.map((r) => r.destination.ip), [c.master(1).ip]);
  });

  it('the exec runner writes the same table the interactive one reads as intact', async () => {
    const exec = await c.openBackend({ runner: 'exec' });
    const wanted = desired([virtualServer(VIP4, 'sh', [[c.master(1), 2], [c.master(2), 1]])]);
    await exec.apply(wanted);
    const read = await c.backend.read(4);
    assert.equal(read.status, 'intact');
    assert.deepEqual(read.state.virtualServers, wanted.virtualServers);
  });

  it('invalid input is refused before anything runs', async () => {
    await c.backend.apply(both());
    const before = await tableListing(c);
    const hostile = { ip: '10.240.0.11 ; flush ruleset', port: 6443, family: 4 as const };
    await assert.rejects(c.backend.apply(desired([virtualServer(VIP4, 'rr', [[hostile, 1]])])), (err: unknown) => isDataplaneError(err, 'EINVAL') && /not an IP address/.test((err as Error).message));
    await assert.rejects(c.backend.apply(desired([virtualServer(VIP4, 'rr', [[c.master(1), 1.5]])])), /weight 1.5 is not an integer/);
    assert.equal(await tableListing(c), before);
  });

  it('contract ops through edit(): applied against the kernel\'s table in one transaction; a refused op changes nothing', async () => {
    await c.backend.remove();
    const spec = { address: VIP4, scheduler: 'rr', persistenceTimeout: 0 };
    const dest = (kind: 'add-destination' | 'update-destination', index: number, weight: number): NftOp => ({
      kind,
      virtualServer: VIP4,
      destination: { address: c.master(index), weight, forward: 'masq' },
    });
    const ops: NftOp[] = [{ kind: 'add-virtual-server', spec }, dest('add-destination', 1, 1), dest('add-destination', 2, 1)];
    assert.deepEqual((await c.backend.edit((current) => applyOps(current, ops))).rewritten, [4]);
    assert.deepEqual(await c.agent.burst(VIP4, 2), { servers: { master1: 1, master2: 1 }, errors: {} });
    const before = await tableListing(c);
    await assert.rejects(
      c.backend.edit((current) => applyOps(current, [dest('update-destination', 1, 0), { kind: 'add-virtual-server', spec }])),
      (err: unknown) => err instanceof NftOpRefused && err.code === 'EEXIST' && err.index === 1,
    );
    assert.equal(await tableListing(c), before);
    // The kernel is the truth: a flushed table means "add" is right again.
    await c.nft(['flush', 'ruleset']);
    assert.deepEqual((await c.backend.edit((current) => applyOps(current, ops))).rewritten, [4]);
    assert.deepEqual(await c.agent.burst(VIP4, 2), { servers: { master1: 1, master2: 1 }, errors: {} });
  });

  it('remove() deletes our tables and nothing else, and twice is fine', async () => {
    await c.nft(['add', 'table', 'ip', 'someone-else']);
    await c.backend.apply(both());
    await c.backend.remove();
    await c.backend.remove();
    assert.equal((await c.backend.read(4)).status, 'absent');
    assert.match(await c.nft(['list', 'tables']), /^table ip someone-else\n$/);
  });
});
