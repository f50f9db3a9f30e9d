// The flapping-master scenario both dataplanes' fault tests share: one master's /healthz flips
// between failing and healthy while the table is sampled; the healthy neighbours must stay at
// weight 1 in every sample and the flapper must leave rotation at some point.
import assert from 'node:assert/strict';
import type { Cluster, Master } from './cluster.ts';

export async function assertFlapSparesNeighbours(cluster: Cluster, options: { flaps: number; minSamples: number }): Promise<void> {
  const [steady1, steady2, flapper] = cluster.masters as [Master, Master, Master];
  const seen: Array<Record<string, number>> = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      seen.push(cluster.weights());
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  try {
    for (let flap = 0; flap < options.flaps; flap++) {
      await flapper.setHealth(flap % 2 === 0 ? 'fail' : 'ok');
      await new Promise((resolve) => setTimeout(resolve, 1200));
    }
  } finally {
    await flapper.setHealth('ok');
    sampling = false;
    await sampler;
  }
  assert.ok(seen.length > options.minSamples, `sampled the table ${seen.length} times`);
  for (const weights of seen) {
    assert.equal(weights[steady1.endpoint], 1, `${steady1.name} stays at weight 1: ${JSON.stringify(weights)}`);
    assert.equal(weights[steady2.endpoint], 1, `${steady2.name} stays at weight 1: ${JSON.stringify(weights)}`);
  }
  assert.ok(seen.some((weights) => !(flapper.endpoint in weights) || weights[flapper.endpoint] === 0), 'the flapper did leave rotation at some point');
}
