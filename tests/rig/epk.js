'use strict';
// epk: the effective partition key (EPK) of a partition key value, as Cosmos DB computes it for
// routing, for the rig's Cosmos front: the same rules as lib/cosmos_epk.c (Hash v1, Hash v2,
// MultiHash) and the same choices where the SDKs differ: V1 cuts strings to 100 UTF-16 code
// units, then treats them as long by UTF-8 byte count (.NET/Java/Python); a number's binary form
// always ends with its last 7-bit group, even 00 (Java/.NET/Python). No dependencies.
//
// A value is a string, a number, true/false, null, or undefined / {} (the path is missing).

const MASK64 = (1n << 64n) - 1n;

function rotl32(x, r) {
  return (x << r) | (x >>> (32 - r));
}

function mixK32(k) {
  return Math.imul(rotl32(Math.imul(k, 0xcc9e2d51), 15), 0x1b873593);
}

// MurmurHash3 x86 32-bit of a Buffer, as an unsigned number.
function murmur3_32(buf, seed = 0) {
  let h = seed | 0;
  const nblocks = buf.length >>> 2;
  for (let i = 0; i < nblocks; i++) {
    h ^= mixK32(buf.readUInt32LE(4 * i));
    h = (Math.imul(rotl32(h, 13), 5) + 0xe6546b64) | 0;
  }
  const tail = buf.length & 3;
  if (tail) {
    let k = 0;
    for (let i = tail; i > 0; i--) k = (k << 8) | buf[4 * nblocks + i - 1];
    h ^= mixK32(k);
  }
  h ^= buf.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const C1 = 0x87c37b91114253d5n;
const C2 = 0x4cf5ad432745937fn;
const mul64 = (a, b) => (a * b) & MASK64;
const add64 = (a, b) => (a + b) & MASK64;
const rotl64 = (x, r) => ((x << BigInt(r)) | (x >> BigInt(64 - r))) & MASK64;

function fmix64(k) {
  k ^= k >> 33n;
  k = mul64(k, 0xff51afd7ed558ccdn);
  k ^= k >> 33n;
  k = mul64(k, 0xc4ceb9fe1a85ec53n);
  return k ^ (k >> 33n);
}

function loadLE(buf, off, n) {
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[off + i]);
  return v;
}

const mixK1 = (k) => mul64(rotl64(mul64(k, C1), 31), C2);
const mixK2 = (k) => mul64(rotl64(mul64(k, C2), 33), C1);

// MurmurHash3 x64 128-bit of a Buffer: 16 bytes, h1 then h2, each little-endian.
function murmur3_128(buf, seed = 0) {
  let h1 = BigInt(seed >>> 0);
  let h2 = h1;
  const nblocks = Math.floor(buf.length / 16);
  for (let i = 0; i < nblocks; i++) {
    h1 ^= mixK1(loadLE(buf, 16 * i, 8));
    h1 = add64(mul64(add64(rotl64(h1, 27), h2), 5n), 0x52dce729n);
    h2 ^= mixK2(loadLE(buf, 16 * i + 8, 8));
    h2 = add64(mul64(add64(rotl64(h2, 31), h1), 5n), 0x38495ab5n);
  }
  const off = 16 * nblocks;
  const rest = buf.length & 15;
  if (rest > 8) h2 ^= mixK2(loadLE(buf, off + 8, rest - 8));
  if (rest > 0) h1 ^= mixK1(loadLE(buf, off, Math.min(rest, 8)));
  h1 ^= BigInt(buf.length);
  h2 ^= BigInt(buf.length);
  h1 = add64(h1, h2);
  h2 = add64(h2, h1);
  h1 = fmix64(h1);
  h2 = fmix64(h2);
  h1 = add64(h1, h2);
  h2 = add64(h2, h1);
  const out = Buffer.alloc(16);
  out.writeBigUInt64LE(h1, 0);
  out.writeBigUInt64LE(h2, 8);
  return out;
}

const TYPE = { undefined: 0x00, null: 0x01, false: 0x02, true: 0x03, number: 0x05, string: 0x08 };

// 'undefined' | 'null' | 'false' | 'true' | 'number' | 'string'; throws on anything else.
function kindOf(v) {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (v === true || v === false) return String(v);
  if (typeof v === 'number' || typeof v === 'string') return typeof v;
  if (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) return 'undefined';
  throw new TypeError(`not a partition key value: ${JSON.stringify(v)}`);
}

function doubleBits(d) {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(d);
  return b.readBigUInt64BE();
}

// Hashing form: type byte, then 8-byte little-endian double, or UTF-8 bytes + strEnd.
function hashingForm(v, strEnd) {
  const kind = kindOf(v);
  const type = Buffer.from([TYPE[kind]]);
  if (kind === 'number') {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    return Buffer.concat([type, b]);
  }
  if (kind === 'string') return Buffer.concat([type, Buffer.from(v, 'utf8'), Buffer.from([strEnd])]);
  return type;
}

// Order-preserving binary form of a number (at most 10 bytes).
function binaryNumber(d) {
  const sign = 1n << 63n;
  const bits = doubleBits(d);
  let payload = bits < sign ? bits ^ sign : (~bits + 1n) & MASK64;
  const out = [0x05, Number(payload >> 56n)];
  payload = (payload << 8n) & MASK64;
  let group = 0;
  let first = true;
  do {
    if (!first) out.push(group);
    first = false;
    group = Number(payload >> 56n) | 0x01;
    payload = (payload << 7n) & MASK64;
  } while (payload !== 0n);
  out.push(group & 0xfe);
  return Buffer.from(out);
}

// Binary form of a value: numbers as above; strings 08, each UTF-8 byte + 1 (FF stays), then
// 00 when at most 100 bytes, else the first 101 bytes and no 00.
function binaryForm(v) {
  const kind = kindOf(v);
  if (kind === 'number') return binaryNumber(v);
  if (kind !== 'string') return Buffer.from([TYPE[kind]]);
  const bytes = Buffer.from(v, 'utf8');
  const whole = bytes.length <= 100;
  const kept = bytes.subarray(0, whole ? bytes.length : 101).map((b) => (b < 0xff ? b + 1 : b));
  return Buffer.concat([Buffer.from([0x08]), kept, Buffer.from(whole ? [0x00] : [])]);
}

function v2Bytes(values) {
  const h = murmur3_128(Buffer.concat(values.map((v) => hashingForm(v, 0xff))));
  const epk = Buffer.from(h).reverse();
  epk[0] &= 0x3f;
  return epk;
}

function checkValues(values, max) {
  if (!Array.isArray(values) || values.length === 0 || values.length > max)
    throw new TypeError(`expected an array of 1..${max} partition key values`);
}

// Hash v1: MurmurHash3 x86-32 over the values cut to 100 UTF-16 code units; the EPK is the
// binary form of [hash, cut values...].
function epkV1(values) {
  checkValues(values, 3);
  const cut = values.map((v) => (typeof v === 'string' && v.length > 100 ? v.slice(0, 100) : v));
  const hash = murmur3_32(Buffer.concat(cut.map((v) => hashingForm(v, 0x00))));
  return Buffer.concat([binaryNumber(hash), ...cut.map(binaryForm)]).toString('hex').toUpperCase();
}

// Hash v2: MurmurHash3 x64-128 over all values together, reversed, top 2 bits cleared.
function epkV2(values) {
  checkValues(values, Infinity);
  return v2Bytes(values).toString('hex').toUpperCase();
}

// MultiHash (hierarchical keys, up to 3 paths): the V2 EPK of each value, concatenated.
function epkMultiHash(values) {
  checkValues(values, 3);
  return values.map((v) => v2Bytes([v]).toString('hex').toUpperCase()).join('');
}

module.exports = { epkV1, epkV2, epkMultiHash, murmur3_32, murmur3_128, binaryNumber };
