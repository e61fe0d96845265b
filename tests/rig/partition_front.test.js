'use strict';
// The front's partitioning contract over HTTP (tests/rig/partition_front.js inside cosmos.js):
// what it refuses and with which status, paged and incremental /pkranges, splits, the per-range
// RU budget, and resource-id signatures. Run: node --test tests/rig/partition_front.test.js
const test = require('node:test');
const assert = require('node:assert/strict');
const { startFront, request, admin } = require('./front_harness.js');
const { RangeMap, epkOf } = require('./partitioning.js');

const DB = 'pdb';
const V2 = { paths: ['/customerId'], kind: 'Hash', version: 2 };
let front;

test.before(async () => {
  front = await startFront();
  assert.equal((await request(front, 'POST', '/dbs', { body: { id: DB } })).status, 201);
});
test.after(() => front && front.stop());

async function container(id, partitionKey, ranges) {
  const r = await request(front, 'POST', `/dbs/${DB}/colls`, { body: { id, partitionKey } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return admin(front, 'POST', '/partitioning', { db: DB, coll: id, ranges });
}

const batch = (coll, ops, headers = {}) => request(front, 'POST', `/dbs/${DB}/colls/${coll}/docs`, {
  body: ops.map((o) => ({ operationType: 'Upsert', partitionKey: JSON.stringify([o.customerId]), resourceBody: o })),
  headers: { 'x-ms-cosmos-is-batch-request': 'True', 'x-ms-cosmos-batch-atomic': 'False', 'x-ms-cosmos-batch-continue-on-error': 'True', ...headers } });

// Keys that the 16-range V2 map puts in range `id`.
function keysIn(id, n) {
  const map = new RangeMap(V2, 16);
  const out = [];
  for (let i = 0; out.length < n; i++) if (map.rangeOf(epkOf(map.def, [`k${i}`])).id === id) out.push(`k${i}`);
  return out;
}

test('one range: a batch without range id passes, as the service serves it (single-range container)', async () => {
  await container('one', V2, 1);
  const r = await batch('one', [{ id: 'a', customerId: 'x' }, { id: 'b', customerId: 'y' }]);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const s = await admin(front, 'GET', `/partitioning?db=${DB}&coll=one`);
  assert.equal(s.ranges[0].landed, 2);
  await admin(front, 'POST', '/partitioning', { db: DB, coll: 'one', require_range_id: true });
  const refused = await batch('one', [{ id: 'c', customerId: 'x' }]);
  assert.equal(refused.status, 400);
  assert.match(refused.body.message, /PartitionKey value must be supplied/);
});

test('16 ranges: range id required, gone/unknown/outside refused 410/1002, right range accepted', async () => {
  const st = await container('sixteen', V2, 16);
  assert.equal(st.ranges.length, 16);
  const [k3a, k3b] = keysIn('3', 2);
  const [k4] = keysIn('4', 1);
  let r = await batch('sixteen', [{ id: 'o1', customerId: k3a }]);
  assert.equal(r.status, 400, 'no range id on 16 ranges');
  assert.equal(r.headers['x-ms-substatus'], undefined);
  r = await batch('sixteen', [{ id: 'o1', customerId: k3a }, { id: 'o2', customerId: k3b }], { 'x-ms-documentdb-partitionkeyrangeid': '3' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  r = await batch('sixteen', [{ id: 'o3', customerId: k3a }, { id: 'o4', customerId: k4 }], { 'x-ms-documentdb-partitionkeyrangeid': '3' });
  assert.equal(r.status, 410);
  assert.equal(r.headers['x-ms-substatus'], '1002');
  assert.match(r.body.message, /operation 1: .* not in partition key range 3/);
  r = await batch('sixteen', [{ id: 'o5', customerId: k3a }], { 'x-ms-documentdb-partitionkeyrangeid': '77' });
  assert.deepEqual([r.status, r.headers['x-ms-substatus']], [410, '1002']);
  const s = await admin(front, 'GET', `/partitioning?db=${DB}&coll=sixteen`);
  assert.equal(s.ranges[3].landed, 2);
  assert.deepEqual([s.refused.missing_range_id, s.refused.outside_range, s.refused.range_unknown], [1, 1, 1]);
  // nothing of a refused request reached the backend
  const gone = await request(front, 'GET', `/dbs/${DB}/colls/sixteen/docs/o4`, { headers: {
    'x-ms-documentdb-partitionkey': JSON.stringify([k4]), 'x-ms-documentdb-query-enablecrosspartition': 'True' } });
  assert.equal(gone.status, 404);
});

test('split mid-run: the parent answers 410/1002, its children take its keys and list it in parents', async () => {
  await container('split', V2, 16);
  const [k] = keysIn('5', 1);
  const out = await admin(front, 'POST', '/partitioning/split', { db: DB, coll: 'split', range: '5' });
  assert.deepEqual(out.children, ['16', '17']);
  let r = await batch('split', [{ id: 's1', customerId: k }], { 'x-ms-documentdb-partitionkeyrangeid': '5' });
  assert.deepEqual([r.status, r.headers['x-ms-substatus']], [410, '1002']);
  assert.match(r.body.message, /gone/);
  const pk = await request(front, 'GET', `/dbs/${DB}/colls/split/pkranges`);
  assert.equal(pk.status, 200);
  const ids = pk.body.PartitionKeyRanges.map((x) => x.id);
  assert.ok(!ids.includes('5') && ids.includes('16') && ids.includes('17'));
  assert.deepEqual(pk.body.PartitionKeyRanges.find((x) => x.id === '16').parents, ['5']);
  const child = out.state.ranges.find((x) => x.id === '16').maxExclusive > epkOf(V2, [k]) ? '16' : '17';
  r = await batch('split', [{ id: 's1', customerId: k }], { 'x-ms-documentdb-partitionkeyrangeid': child });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const s = await admin(front, 'GET', `/partitioning?db=${DB}&coll=split`);
  assert.equal(s.refused.range_gone, 1);
  assert.equal(s.ranges.find((x) => x.id === child).landed, 1);
});

test('pkranges: paged by x-ms-max-item-count or page_size; incremental feed since an etag, 304 when unchanged', async () => {
  await container('paged', V2, 5);
  const p1 = await request(front, 'GET', `/dbs/${DB}/colls/paged/pkranges`, { headers: { 'x-ms-max-item-count': '2' } });
  assert.deepEqual(p1.body.PartitionKeyRanges.map((x) => x.id), ['0', '1']);
  const p2 = await request(front, 'GET', `/dbs/${DB}/colls/paged/pkranges`, { headers: { 'x-ms-max-item-count': '2', 'x-ms-continuation': p1.headers['x-ms-continuation'] } });
  const p3 = await request(front, 'GET', `/dbs/${DB}/colls/paged/pkranges`, { headers: { 'x-ms-max-item-count': '2', 'x-ms-continuation': p2.headers['x-ms-continuation'] } });
  assert.deepEqual(p3.body.PartitionKeyRanges.map((x) => x.id), ['4']);
  assert.equal(p3.headers['x-ms-continuation'], undefined);
  await admin(front, 'POST', '/partitioning', { db: DB, coll: 'paged', page_size: 3 });
  const q = await request(front, 'GET', `/dbs/${DB}/colls/paged/pkranges`);
  assert.equal(q.body.PartitionKeyRanges.length, 3);
  const inc = { 'a-im': 'Incremental feed' };
  const all = await request(front, 'GET', `/dbs/${DB}/colls/paged/pkranges`, { headers: { ...inc, 'x-ms-max-item-count': '100' } });
  const etag = all.headers.etag;
  assert.equal((await request(front, 'GET', `/dbs/${DB}/colls/paged/pkranges`, { headers: { ...inc, 'if-none-match': etag } })).status, 304);
  await admin(front, 'POST', '/partitioning/split', { db: DB, coll: 'paged', range: '2' });
  const after = await request(front, 'GET', `/dbs/${DB}/colls/paged/pkranges`, { headers: { ...inc, 'if-none-match': etag } });
  assert.deepEqual(after.body.PartitionKeyRanges.map((x) => [x.id, x.parents]), [['5', ['2']], ['6', ['2']]]);
});

test('partition key header: raw non-ASCII refused 400, escaped accepted; wrong component count 400/1001', async () => {
  await container('keys', V2, 4);
  const up = (pk, raw) => request(front, 'POST', `/dbs/${DB}/colls/keys/docs`, { body: { id: 'u', customerId: 'é' },
    headers: { 'x-ms-documentdb-is-upsert': 'True', 'x-ms-documentdb-partitionkey': raw ? Buffer.from(pk).toString('latin1') : pk } });
  let r = await up('["é"]', true);
  assert.equal(r.status, 400);
  assert.match(r.body.message, /non-ASCII/);
  r = await up('["\\u00e9"]');
  assert.equal(r.status, 201, JSON.stringify(r.body));
  r = await up('["a","b"]');
  assert.deepEqual([r.status, r.headers['x-ms-substatus']], [400, '1001']);
  const s = await admin(front, 'GET', `/partitioning?db=${DB}&coll=keys`);
  assert.deepEqual([s.refused.pk_non_ascii, s.refused.pk_mismatch], [1, 1]);
  const want = new RangeMap(V2, 4).rangeOf(epkOf(V2, ['é'])).id;
  assert.equal(s.ranges.find((x) => x.id === want).landed, 1);
});

test('per-range RU budget: a hot range answers 429 with x-ms-retry-after-ms, the others do not', async () => {
  await container('hot', V2, 4);
  await admin(front, 'POST', '/partitioning', { db: DB, coll: 'hot', ru_per_second: 10 });
  const map = new RangeMap(V2, 4);
  const keyOf = (id) => { for (let i = 0; ; i++) if (map.rangeOf(epkOf(V2, [`h${i}`])).id === id) return `h${i}`; };
  const ops = (k, n) => Array.from({ length: n }, (_, i) => ({ id: `${k}-${i}`, customerId: k }));
  let r = await batch('hot', ops(keyOf('0'), 20), { 'x-ms-documentdb-partitionkeyrangeid': '0' });
  assert.equal(r.status, 200);
  r = await batch('hot', ops(keyOf('0'), 1), { 'x-ms-documentdb-partitionkeyrangeid': '0' });
  assert.equal(r.status, 429);
  assert.ok(Number(r.headers['x-ms-retry-after-ms']) >= 900, r.headers['x-ms-retry-after-ms']);
  r = await batch('hot', ops(keyOf('1'), 5), { 'x-ms-documentdb-partitionkeyrangeid': '1' });
  assert.equal(r.status, 200);
});

test('resource-id links: a request addressed and signed by _rid (lower-cased) is accepted, a wrong one is not', async () => {
  await container('rids', V2, 1);
  const coll = (await request(front, 'GET', `/dbs/${DB}/colls/rids`)).body;
  assert.deepEqual(coll.partitionKey, V2);
  const db = (await request(front, 'GET', `/dbs/${DB}`)).body;
  const base = `/dbs/${encodeURIComponent(db._rid)}/colls/${encodeURIComponent(coll._rid)}`;
  let r = await request(front, 'GET', `${base}/pkranges`, { link: coll._rid.toLowerCase() });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.PartitionKeyRanges.length, 1);
  r = await request(front, 'POST', `${base}/docs`, { link: coll._rid.toLowerCase(), body: { id: 'r1', customerId: 'c' },
    headers: { 'x-ms-documentdb-is-upsert': 'True', 'x-ms-documentdb-partitionkey': '["c"]' } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  r = await request(front, 'GET', `/dbs/${encodeURIComponent(db._rid)}`, { link: db._rid.toLowerCase() });
  assert.equal(r.status, 200);
  r = await request(front, 'GET', `${base}/pkranges`, { link: 'somethingelse' });
  assert.equal(r.status, 401);
  r = await request(front, 'GET', `/dbs/${DB}/colls/rids/pkranges`, { link: coll._rid.toLowerCase() });
  assert.equal(r.status, 401, 'a name-addressed path is signed with its name link');
});
