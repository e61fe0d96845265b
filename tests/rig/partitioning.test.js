'use strict';
// Tests for tests/rig/partitioning.js (the front's range maps): even boundaries that tile "" .. "FF"
// for V1, V2 and MultiHash, routing of RIG.md's EPK vectors to the range a hand computation gives,
// an even spread of many keys, splits (lineage in parents, the parent gone, tiling kept), the
// partition key checks, and the RU budget. Run: node --test tests/rig/partitioning.test.js
const test = require('node:test');
const assert = require('node:assert/strict');
const { RangeMap, Budget, boundary, epkOf, parsePartitionKey, normalizeDefinition } = require('./partitioning.js');
const { epkV1 } = require('./epk.js');

const V1 = { paths: ['/customerId'], kind: 'Hash' };
const V2 = { paths: ['/customerId'], kind: 'Hash', version: 2 };
const MH = { paths: ['/tenant', '/user'], kind: 'MultiHash', version: 2 };

function assertTiles(map) {
  const live = map.live();
  assert.equal(live[0].minInclusive, '');
  assert.equal(live[live.length - 1].maxExclusive, 'FF');
  for (let i = 1; i < live.length; i++) {
    assert.equal(live[i].minInclusive, live[i - 1].maxExclusive);
    assert.ok(live[i - 1].minInclusive < live[i - 1].maxExclusive, `range ${live[i - 1].id} not empty`);
  }
}

test('definitions: no version is V1, MultiHash is V2', () => {
  assert.deepEqual(normalizeDefinition(V1), { paths: ['/customerId'], kind: 'Hash', version: 1 });
  assert.equal(normalizeDefinition(V2).version, 2);
  assert.equal(normalizeDefinition({ paths: ['/a'], kind: 'MultiHash' }).version, 2);
});

test('V2: 16 ranges at multiples of 2^122, as 32 hex digits', () => {
  const map = new RangeMap(V2, 16);
  assertTiles(map);
  assert.deepEqual(map.live().map((r) => r.id), [...Array(16).keys()].map(String));
  assert.equal(map.byId('1').minInclusive, '04000000000000000000000000000000');
  assert.equal(map.byId('15').minInclusive, '3C000000000000000000000000000000');
  // RIG.md V2 vectors: the first byte / 4 is the range (0x22 -> 8, 0x01 -> 0, 0x32 -> 12, 0x0B -> 2)
  assert.equal(map.rangeOf(epkOf(map.def, ['redmond'])).id, '8');
  assert.equal(map.rangeOf(epkOf(map.def, ['partitionKey'])).id, '0');
  assert.equal(map.rangeOf(epkOf(map.def, [''])).id, '12');
  assert.equal(map.rangeOf(epkOf(map.def, ['a'.repeat(110)])).id, '2');
});

test('V1: boundaries are binary forms of even 32-bit hash values', () => {
  const map = new RangeMap(V1, 4);
  assertTiles(map);
  // 2^31 as a V1 binary number: the double 0x41E0000000000000 with its sign bit flipped is
  // C1E0000000000000: first byte C1, then one 7-bit group 1110000 (last: low bit 0) -> 05 C1 E0
  assert.equal(boundary(1, 1n << 31n), '05C1E0');
  assert.equal(map.byId('2').minInclusive, boundary(1, 1n << 31n));
  // 2^30 is 05C1D0 and 3 * 2^30 is 05C1E8, so of RIG.md's V1 vectors "redmond" (05C1EF..) is in
  // range 3, "" (05C1CF..) in range 0, true (05C1D7..) in range 1
  assert.deepEqual(map.live().map((r) => r.maxExclusive), ['05C1D0', '05C1E0', '05C1E8', 'FF']);
  assert.equal(map.rangeOf(epkV1(['redmond'])).id, '3');
  assert.equal(map.rangeOf(epkV1([''])).id, '0');
  assert.equal(map.rangeOf(epkV1([true])).id, '1');
});

test('many keys spread evenly over 16 ranges (V1, V2, MultiHash)', () => {
  for (const def of [V1, V2, MH]) {
    const map = new RangeMap(def, 16);
    assertTiles(map);
    const counts = {};
    for (let i = 0; i < 16000; i++) {
      const values = def.kind === 'MultiHash' ? [`t${i % 97}`, `u${i}`] : [`customer-${i}`];
      const r = map.rangeOf(epkOf(map.def, values));
      assert.ok(r.minInclusive <= epkOf(map.def, values));
      counts[r.id] = (counts[r.id] || 0) + 1;
    }
    assert.equal(Object.keys(counts).length, 16, `${def.kind} v${def.version || 1}: every range used`);
    if (def.kind !== 'MultiHash') { // MultiHash routes by the first component: 97 tenants only
      for (const n of Object.values(counts)) assert.ok(n > 700 && n < 1300, `${n} of 16000 in one range`);
    }
  }
});

test('MultiHash: EPKs are 64 hex digits, routed by their first 32', () => {
  const map = new RangeMap(MH, 16);
  const epk = epkOf(map.def, ['redmond', 'x']);
  assert.equal(epk.length, 64);
  assert.equal(map.rangeOf(epk).id, '8'); // the V2 hash of "redmond" starts 22
});

test('split: children tile the parent, list their ancestors, the parent is gone', () => {
  const map = new RangeMap(V2, 4);
  const before = map.lsn;
  const [a, b] = map.split('1');
  assert.deepEqual([a.id, b.id], ['4', '5']);
  assert.deepEqual(a.parents, ['1']);
  assert.equal(a.minInclusive, '10000000000000000000000000000000');
  assert.equal(a.maxExclusive, '18000000000000000000000000000000');
  assert.equal(b.maxExclusive, '20000000000000000000000000000000');
  assert.equal(map.byId('1').gone, true);
  assert.equal(map.lsn, before + 1);
  assertTiles(map);
  assert.deepEqual(map.live().map((r) => r.id), ['0', '4', '5', '2', '3']);
  const [c] = map.split('5');
  assert.deepEqual(c.parents, ['1', '5']);
  assert.throws(() => map.split('1'), /already gone/);
  assert.throws(() => map.split('99'), /no partition key range/);
  assertTiles(map);
  const epk = '1A000000000000000000000000000000';
  assert.equal(map.rangeOf(epk).id, '6');
});

test('split of a V1 range keeps V1 boundaries', () => {
  const map = new RangeMap(V1, 1);
  const [a, b] = map.split('0');
  assert.equal(a.maxExclusive, boundary(1, 1n << 31n));
  assert.equal(b.maxExclusive, 'FF');
  assertTiles(map);
});

test('partition key checks', () => {
  const def = normalizeDefinition(V2);
  assert.deepEqual(parsePartitionKey('["c1"]', def), { values: ['c1'] });
  assert.deepEqual(parsePartitionKey('["\\u00e9"]', def), { values: ['é'] });
  assert.deepEqual(parsePartitionKey('[]', def), { values: [] });
  assert.equal(parsePartitionKey('["é"]', def).error, 'non_ascii');
  assert.equal(parsePartitionKey(Buffer.from('["é"]').toString('latin1'), def).error, 'non_ascii');
  assert.equal(parsePartitionKey('"c1"', def).error, 'invalid');
  assert.equal(parsePartitionKey('[["c1"]]', def).error, 'invalid');
  assert.equal(parsePartitionKey('[c1]', def).error, 'invalid');
  assert.equal(parsePartitionKey('["a","b"]', def).error, 'mismatch');
  assert.deepEqual(parsePartitionKey('["a",{}]', normalizeDefinition(MH)), { values: ['a', {}] });
  assert.equal(parsePartitionKey('["a"]', normalizeDefinition(MH)).error, 'mismatch');
  assert.equal(epkOf(def, []), '');
});

test('budget: one second of burst, then waits in proportion to the debt', () => {
  const b = new Budget(100, 0);
  assert.equal(b.take(60, 0), 0);
  assert.equal(b.take(60, 0), 0); // 40 left: passes, 20 in debt
  assert.equal(b.take(1, 0), 200); // 20 RU at 100 RU/s
  assert.equal(b.take(1, 100), 100);
  assert.equal(b.take(1, 300), 0);
});
