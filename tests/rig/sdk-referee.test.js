'use strict';
// The official SDK as the referee of the front's partitioning contract (issue 13 item 7): the
// @azure/cosmos bulk API (pinned in package.json) writes through the same front as ordersink, on
// containers of 16 ranges (Hash V2, Hash V1, MultiHash). Its requests must pass every check of the
// front (nothing refused), land in the ranges the front's own routing computes, and its EPKs must
// equal epk.js's; after a split under its feet it must recover (410/1002 -> re-read the ranges)
// and every document must land. Run: node --test tests/rig/sdk-referee.test.js
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { startFront, admin } = require('./front_harness.js');
const { RangeMap, epkOf, normalizeDefinition } = require('./partitioning.js');

// Not found = the test fails (tests/rig/deps.sh installs it): a referee that is not there proves nothing.
const { CosmosClient } = require('@azure/cosmos');
// The SDK's own hashing (not exported by the package): the EPK it routes by.
const { hashPartitionKey } = require(path.join(path.dirname(require.resolve('@azure/cosmos')), 'utils', 'hashing', 'hash.js'));

const DB = 'referee';
const N = 2000;
let front;
let client;

test.before(async () => {
  front = await startFront();
  client = new CosmosClient({ endpoint: front.endpoint, key: front.key, agent: front.agent });
  await client.databases.createIfNotExists({ id: DB });
});
test.after(() => front && front.stop());

async function makeContainer(id, partitionKey, ranges) {
  const { container } = await client.database(DB).containers.create({ id, partitionKey });
  const state = await admin(front, 'POST', '/partitioning', { db: DB, coll: id, ranges });
  assert.equal(state.ranges.length, ranges);
  return container;
}

function keyOf(def, i) {
  return def.kind === 'MultiHash' ? [`tenant-${i % 40}`, `user-${i % 500}`] : `customer-${i % 500}`;
}

function upserts(def, n, tag) {
  return Array.from({ length: n }, (_, i) => {
    const pk = keyOf(def, i);
    const body = def.kind === 'MultiHash' ? { tenant: pk[0], user: pk[1] } : { customerId: pk };
    return { operationType: 'Upsert', partitionKey: pk, resourceBody: { id: `${tag}-${i}`, ...body, n: i } };
  });
}

// Runs the SDK's bulk; asserts every operation succeeded. Returns the front's state after.
async function bulk(container, coll, ops) {
  const results = await container.items.executeBulkOperations(ops);
  assert.equal(results.length, ops.length);
  const failed = results.filter((r) => r.error || !r.response || r.response.statusCode >= 300);
  assert.deepEqual(failed.map((r) => [r.operationInput.id || r.operationInput.resourceBody.id, r.error && r.error.code]).slice(0, 5), []);
  return admin(front, 'GET', `/partitioning?db=${DB}&coll=${coll}`);
}

// An operation's key as an array of components (the SDK turns op.partitionKey into one in place).
const valuesOf = (op) => (Array.isArray(op.partitionKey) ? op.partitionKey : [op.partitionKey]);
const landedBy = (state) => Object.fromEntries(state.ranges.map((r) => [r.id, r.landed]));
const noRefusals = (state) => assert.deepEqual(Object.entries(state.refused).filter(([, n]) => n > 0), [], 'the front refused SDK requests');

for (const [name, partitionKey] of [
  ['v2', { paths: ['/customerId'], kind: 'Hash', version: 2 }],
  ['v1', { paths: ['/customerId'], kind: 'Hash', version: 1 }],
  ['multihash', { paths: ['/tenant', '/user'], kind: 'MultiHash', version: 2 }],
]) {
  test(`${name}, 16 ranges: ${N} bulk upserts pass the front's checks and land where the front routes them`, { timeout: 60000 }, async () => {
    const container = await makeContainer(name, partitionKey, 16);
    const def = normalizeDefinition(partitionKey);
    const ops = upserts(def, N, name);
    // the SDK's EPK of every key = epk.js's
    for (const op of ops.slice(0, 500)) {
      const values = valuesOf(op);
      assert.equal(hashPartitionKey(values, partitionKey), epkOf(def, values), `EPK of ${JSON.stringify(values)}`);
    }
    const state = await bulk(container, name, ops);
    noRefusals(state);
    const map = new RangeMap(partitionKey, 16);
    const want = Object.fromEntries(map.live().map((r) => [r.id, 0]));
    for (const op of ops) want[map.rangeOf(epkOf(def, valuesOf(op))).id]++;
    assert.deepEqual(landedBy(state), want);
    const used = state.ranges.filter((r) => r.batches > 0).length;
    console.log(`# ${name}: ${N} upserts in ${state.ranges.reduce((a, r) => a + r.batches, 0)} batch requests over ${used} of 16 ranges; landed per range ${JSON.stringify(Object.values(want))}`);
    assert.ok(used >= (def.kind === 'MultiHash' ? 10 : 16));
  });
}

test(`split under the SDK's feet: 410/1002 for the parent, the SDK re-reads the ranges, all ${N} documents land`, { timeout: 60000 }, async () => {
  const partitionKey = { paths: ['/customerId'], kind: 'Hash', version: 2 };
  const container = await makeContainer('split', partitionKey, 16);
  const def = normalizeDefinition(partitionKey);
  await bulk(container, 'split', upserts(def, 64, 'warm')); // the SDK now holds the 16-range map
  const before = await admin(front, 'GET', `/partitioning?db=${DB}&coll=split`);
  const hot = before.ranges.reduce((a, r) => (r.landed > a.landed ? r : a));
  const split = await admin(front, 'POST', '/partitioning/split', { db: DB, coll: 'split', range: hot.id });
  const stats0 = await admin(front, 'GET', '/stats');
  const ops = upserts(def, N, 'after');
  const state = await bulk(container, 'split', ops);
  assert.ok(state.refused.range_gone >= 1, 'the SDK sent to the gone parent first');
  const others = Object.entries(state.refused).filter(([k, n]) => k !== 'range_gone' && n > 0);
  assert.deepEqual(others, []);
  assert.equal(state.ranges.find((r) => r.id === hot.id).landed, hot.landed, 'nothing landed in the parent after the split');
  const map = new RangeMap(partitionKey, 16);
  map.split(hot.id);
  const want = Object.fromEntries(map.ranges.map((r) => [r.id, 0]));
  for (const r of before.ranges) want[r.id] += r.landed;
  for (const op of ops) want[map.rangeOf(epkOf(def, valuesOf(op))).id]++;
  assert.deepEqual(landedBy(state), want);
  assert.ok(split.children.every((id) => want[id] > 0), 'both children took documents');
  const stats1 = await admin(front, 'GET', '/stats');
  // every document is there: read each back through the front
  let missing = 0;
  for (let i = 0; i < ops.length; i += 100) {
    const reads = await Promise.all(ops.slice(i, i + 100).map((op) => container.item(op.resourceBody.id, op.partitionKey).read()));
    missing += reads.filter((r) => r.statusCode !== 200 || r.resource.n !== Number(r.resource.id.split('-')[1])).length;
  }
  assert.equal(missing, 0);
  console.log(`# split of range ${hot.id} into ${split.children}: ${state.refused.range_gone} batch(es) refused 410/1002, ` +
    `${stats1.requests - stats0.requests} requests for the ${N} upserts (by status ${JSON.stringify(stats1.by_status)}); children landed ${split.children.map((id) => want[id])}`);
});
