'use strict';
// Tests for tests/rig/epk.js: every known answer in shared RIG.md (JS SDK v1.spec.ts /
// v2.spec.ts, Java PartitionKeyHashingTests), the Java answers the Rust SDK's tests quote, the
// Python SDK's hierarchical-key answers, and values the SDKs have no vectors for, where the
// expected EPK is what lib/cosmos_epk.c computes (the two implementations must agree).
// Run: node --test tests/rig/epk.test.js
const test = require('node:test');
const assert = require('node:assert/strict');
const { epkV1, epkV2, epkMultiHash, murmur3_32, murmur3_128 } = require('./epk.js');

const A110 = 'a'.repeat(110);
const A1024 = 'a'.repeat(1024);
const V1_LONG_A = '05C1EB5921F70608' + '62'.repeat(100) + '00';

// [value, V1 EPK, V2 EPK]
const TABLE = [
  ['', '05C1CF33970FF80800', '32E9366E637A71B4E710384B2F4970A0'],
  ['partitionKey', '05C1E1B3D9CD2608716273756A756A706F4C667A00', '013AEFCF77FA271571CF665A58C933F1'],
  ['redmond', '05C1EFE313830C087366656E706F6500', '22E342F38A486A088463DFF7838A5963'],
  ['aa', '05C1C7B7270FE008626200', '05033626483AE80D00E44FBD35362B19'],
  [A110, V1_LONG_A, '0BA3E9CA8EE4C14538828D1612A4B652'],
  [A1024, V1_LONG_A, '332BDF5512AE49615F32C7D98C2DB86C'],
  [null, '05C1ED45D7475601', '378867E4430E67857ACE5C908374FE16'],
  [{}, '05C1D529E345DC00', '11622DAA78F835834610ABE56EFF5CB5'],
  [undefined, '05C1D529E345DC00', '11622DAA78F835834610ABE56EFF5CB5'],
  [true, '05C1D7C5A903D803', '0E711127C5B5A8E4726AC6DD306A3E59'],
  [false, '05C1DB857D857C02', '2FE1BE91E90A3439635E0E9E37361EF2'],
  [5, '05C1D9C1C5517C05C014', '19C08621B135968252FB34B4CF66F811'],
  [5.5, '05C1D7A771716C05C016', '0E2EE47829D1AF775EEFB6540FD1D0ED'],
  [12313.1221, '05C1ED154D592E05C0C90723F50FC925D8', '27E7ECA8F2EE3E53424DE8D5220631C6'],
  [123456789, '05C1D9E1A5311C05C19DB7CD8B40', '1F56D2538088EBA82CCF988F36E16760'],
  [-128, '05C1D73349F54C053FA0', '01DAEDABF913540367FE219B2AD06148'],
  [2147483647, '05C1E1F503DFB205C1DFFFFFFFFC', '2D9349D64712AEB5EB1406E2F0BE2725'],
  // Java PartitionKeyHashingTests as quoted by the Rust SDK's tests
  [127, '05C1DD539DDFCC05C05FE0', '0C507ACAC853ECA7977BF4CEFB562A25'],
  [-9223372036854775808, '05C1DB35F33D1C053C20', '23D5C6395512BDFEAFADAD15328AD2BB'],
  [9223372036854775807, '05C1B799AB2DD005C3E0', '2EDB959178DFCCA18983F89384D1629B'],
  [-2147483648, '05C1DFBF252BCC053E20', '0B1660D5233C3171725B30D4A5F4CC1F'],
  [Number.MIN_VALUE, '05C1E5C91F4D3005800101010101010102', '0E6CBA63A280927DE485DEF865800139'],
  [Number.MAX_VALUE, '05C1CBE367C53005FFEFFFFFFFFFFFFFFE', '31424D996457102634591FF245DBCC4D'],
];

test('V1 known answers', () => {
  for (const [value, v1] of TABLE) assert.equal(epkV1([value]), v1, `V1 of ${JSON.stringify(value)}`);
});

test('V2 known answers', () => {
  for (const [value, , v2] of TABLE) assert.equal(epkV2([value]), v2, `V2 of ${JSON.stringify(value)}`);
  assert.equal(epkV2(['customer42']), '19819C94CE42A1654CCC8110539D9589');
  assert.equal(epkV2([5.12312419050912359123]), '0EF2E2D82460884AF0F6440BE4F726A8');
});

test('V2 of several values hashes them together (RIG.md lists this one as MultiHash)', () => {
  assert.equal(epkV2(['redmond', 50, 5.5, true, false, null, '', 12313.1221]),
    '1A5E512F591E980E07A6D8AD5BD5AB2F');
  assert.equal(epkV2([5, 'redmond', true, null]), '3032DECBE2AB1768D8E0AEDEA35881DF');
});

test('MultiHash is the V2 EPK of each value, concatenated', () => {
  assert.equal(epkMultiHash(['title_player_account!9E711EFBD3BBB492', 'Title-B60C1']),
    '2306FDF78C35ED4FD1C5835B075FC0B0248E1F58635558D12708326234F93A21');
  assert.equal(epkMultiHash(['title_player_account!9E711EFBD3BBB499']), '378CCD42FC556DDDE688B05DC178BB92');
  assert.equal(epkMultiHash([false, null]),
    '2FE1BE91E90A3439635E0E9E37361EF2378867E4430E67857ACE5C908374FE16');
  assert.equal(epkMultiHash(['redmond', 5.5, true]),
    '22E342F38A486A088463DFF7838A5963' + '0E2EE47829D1AF775EEFB6540FD1D0ED' +
    '0E711127C5B5A8E4726AC6DD306A3E59');
});

test('MurmurHash3 published vectors', () => {
  const b = (s) => Buffer.from(s, 'latin1');
  assert.equal(murmur3_32(b(''), 0), 0);
  assert.equal(murmur3_32(b(''), 1), 0x514e28b7);
  assert.equal(murmur3_32(b(''), 0xffffffff), 0x81f16f39);
  assert.equal(murmur3_32(b('\0\0\0\0'), 0), 0x2362f9de);
  assert.equal(murmur3_32(b('abc'), 0x9747b28c), 0xc84a62dd);
  assert.equal(murmur3_32(b('Hello, world!'), 0x9747b28c), 0x24884cba);
  assert.equal(murmur3_128(b('foo')).toString('hex'), '6145f501578671e2877dba2be487af7e');
  assert.equal(murmur3_128(b('The quick brown fox jumps over the lazy dog')).toString('hex'),
    '6c1b07bc7bbc4be347939ac4a93c437a');
});

// No SDK has vectors for these; the answers are lib/cosmos_epk.c's (see its unit tests for why).
test('agrees with lib/cosmos_epk.c where the SDKs differ or have no vectors', () => {
  const e = (n) => '\u00e9'.repeat(n);
  const cases = [
    // 60 chars but 120 UTF-8 bytes: long by byte count (101 bytes kept, no 00)
    [epkV1([e(60)]), '05C1A329C995C008' + 'C4AA'.repeat(50) + 'C4'],
    [epkV1([e(110)]), '05C1D9C91DF1D808' + 'C4AA'.repeat(50) + 'C4'],
    [epkV2([e(110)]), '2ED87A8D75FFB961ABB493FA365DE4A6'],
    // the cut at 100 UTF-16 units splits the pair: U+FFFD
    [epkV1(['a'.repeat(99) + '\u{1F600}']), '05C1E153DB455808' + '62'.repeat(99) + 'F0C0'],
    [epkV1(['a'.repeat(98) + '\u{1F600}b']), '05C1DD87B7E74C08' + '62'.repeat(98) + 'F1A099'],
    // numbers whose last 7-bit group is empty still write it
    [epkV1([0]), '05C1BF6DA11560058000'],
    [epkV1([2]), '05C1D93569113805C000'],
    [epkV1([-0]), '05C1E703ED99A0058000'],
    // NUL inside a string
    [epkV1(['a\0b']), '05C1E3353F57460862016300'],
    [epkV2(['a\0b']), '1B3FD025E76645CED4D34BF084ED3B74'],
    // V1 of several values (Java hashes them all and appends each)
    [epkV1(['a', 1, null]), '05C1ED356569E608620005BFF001'],
    [epkMultiHash(['\u20ac', {}, false]),
      '1862819C50E34E995E9059844B54F6C511622DAA78F835834610ABE56EFF5CB52FE1BE91E90A3439635E0E9E37361EF2'],
  ];
  for (const [got, want] of cases) assert.equal(got, want);
});

test('rejects what is not a partition key', () => {
  assert.throws(() => epkV2([]), TypeError);
  assert.throws(() => epkV2('a'), TypeError);
  assert.throws(() => epkV2([{ a: 1 }]), TypeError);
  assert.throws(() => epkV2([[1]]), TypeError);
  assert.throws(() => epkV1([1n]), TypeError);
  assert.throws(() => epkMultiHash(['a', 'b', 'c', 'd']), TypeError);
  assert.throws(() => epkV1(['a', 'b', 'c', 'd']), TypeError);
});
