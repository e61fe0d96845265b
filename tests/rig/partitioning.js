'use strict';
// partitioning: the partition key ranges of one container as the Cosmos DB service keeps them, for
// the rig's front (tests/rig/partition_front.js wires it into cosmos.js): N ranges with even EPK
// boundaries (Hash V1, Hash V2, MultiHash), routing of a partition key value to its range, splits
// (children list their ancestors in `parents`, the parent is gone from then on), the partition key
// header's checks, and a per-range request-unit budget. Pure: no I/O, no clock of its own.

const { epkV1, epkV2, epkMultiHash, binaryNumber } = require('./epk.js');

const MIN_EPK = '';
const MAX_EPK = 'FF';

// The hash space a container's ranges divide evenly. V1: the 32-bit MurmurHash3 value, whose
// binary form starts every V1 EPK (so a boundary is the binary form of a hash value). V2 and
// MultiHash: the (first) 128-bit hash with its top 2 bits cleared, so below 2^126.
function spaceTop(version) {
  return version === 1 ? 1n << 32n : 1n << 126n;
}

// The EPK string of a point x of the hash space: "" at 0, "FF" at the top.
function boundary(version, x) {
  if (x <= 0n) return MIN_EPK;
  if (x >= spaceTop(version)) return MAX_EPK;
  if (version === 1) return binaryNumber(Number(x)).toString('hex').toUpperCase();
  return x.toString(16).toUpperCase().padStart(32, '0');
}

// A container's partition key definition as the service answers it: {paths, kind, version}, no
// version = 1 (RIG.md "Cosmos DB REST"); MultiHash is always hashed as V2.
function normalizeDefinition(pk) {
  const paths = pk && Array.isArray(pk.paths) && pk.paths.length ? pk.paths.slice() : ['/id'];
  const kind = pk && pk.kind === 'MultiHash' ? 'MultiHash' : 'Hash';
  const version = kind === 'MultiHash' || (pk && Number(pk.version) === 2) ? 2 : 1;
  return { paths, kind, version };
}

// The EPK of a partition key value given as the array of its components. The empty key [] is
// the minimum EPK (PartitionKeyInternal.Empty). Throws a TypeError on a value epk.js refuses.
function epkOf(def, values) {
  if (values.length === 0) return MIN_EPK;
  if (def.kind === 'MultiHash') return epkMultiHash(values);
  return def.version === 2 ? epkV2(values) : epkV1(values);
}

// Parses a partition key as the service receives it (the x-ms-documentdb-partitionkey header or a
// batch operation's "partitionKey" string): a JSON array of strings, numbers, booleans, null or
// {}. Returns {values} or {error: 'non_ascii' | 'invalid' | 'mismatch', message}. Raw non-ASCII
// is refused: the SDKs escape it as \uXXXX (JS jsonStringifyAndEscapeNonASCII, Java
// Utils.escapeNonAscii), header bytes above 0x7F reach the service as garbage. A component count
// other than the definition's is PartitionKeyMismatch (.NET/Java AddressResolver
// TryResolveServerPartitionByPartitionKey: 400 with sub-status 1001).
function parsePartitionKey(raw, def) {
  if (/[^\x00-\x7f]/.test(raw)) {
    return { error: 'non_ascii', message: 'The partition key header holds raw non-ASCII characters; escape them as \\uXXXX.' };
  }
  let values;
  try {
    values = JSON.parse(raw);
  } catch (e) {
    return { error: 'invalid', message: `Partition key ${raw} is invalid.` };
  }
  const scalar = (v) => v === null || ['string', 'number', 'boolean'].includes(typeof v) ||
    (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0);
  if (!Array.isArray(values) || !values.every(scalar)) {
    return { error: 'invalid', message: `Partition key ${raw} is invalid.` };
  }
  if (values.length !== 0 && values.length !== def.paths.length) {
    return { error: 'mismatch', message: 'PartitionKey extracted from document doesn\'t match the one specified in the header' };
  }
  return { values };
}

// The ranges of one container. Range ids are decimal strings from "0"; a split's children take
// the next ids. lsn counts changes of the map (1 at creation, +1 per split): each range records the
// lsn that created it, which the incremental pkranges feed (A-IM) filters on.
class RangeMap {
  constructor(definition, count = 1) {
    if (!Number.isInteger(count) || count < 1 || count > 1024) throw new RangeError('ranges must be 1..1024');
    this.def = normalizeDefinition(definition);
    this.lsn = 1;
    this.ranges = []; // every range ever, in creation order
    const top = spaceTop(this.def.version);
    for (let i = 0; i < count; i++) {
      this._add((top * BigInt(i)) / BigInt(count), (top * BigInt(i + 1)) / BigInt(count), []);
    }
  }

  _add(lo, hi, parents) {
    this._live = null;
    const r = {
      id: String(this.ranges.length), lo, hi, parents,
      minInclusive: boundary(this.def.version, lo), maxExclusive: boundary(this.def.version, hi),
      gone: false, lsn: this.lsn,
    };
    this.ranges.push(r);
    return r;
  }

  // Live ranges sorted by minInclusive (they tile "" .. "FF"). Kept until the next split: the
  // front routes every operation through it (a copy per call made the front's JavaScript, not
  // the worker, the bound of the multi-range benchmarks).
  live() {
    if (!this._live) this._live = this.ranges.filter((r) => !r.gone).sort((a, b) => (a.lo < b.lo ? -1 : 1));
    return this._live;
  }

  // The range with this id, live or gone, or undefined.
  byId(id) {
    return this.ranges.find((r) => r.id === String(id));
  }

  // The live range with minInclusive <= epk < maxExclusive.
  rangeOf(epk) {
    const live = this.live();
    let lo = 0;
    let hi = live.length - 1; // the last live range whose minInclusive <= epk
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (live[mid].minInclusive <= epk) lo = mid;
      else hi = mid - 1;
    }
    const r = live[lo];
    return r && r.minInclusive <= epk && (r.maxExclusive === MAX_EPK || epk < r.maxExclusive) ? r : undefined;
  }

  // Splits live range `id` at the middle of its hash interval: two children that list every
  // ancestor in `parents` (as the service's pkranges do); the parent is gone. Returns the children.
  split(id) {
    const r = this.byId(id);
    if (!r) throw new RangeError(`no partition key range ${id}`);
    if (r.gone) throw new RangeError(`partition key range ${id} is already gone`);
    if (r.hi - r.lo < 2n) throw new RangeError(`partition key range ${id} is too narrow to split`);
    const mid = (r.lo + r.hi) / 2n;
    r.gone = true;
    this._live = null;
    this.lsn++;
    const parents = [...r.parents, r.id];
    return [this._add(r.lo, mid, parents), this._add(mid, r.hi, parents)];
  }
}

// A request-unit budget of `rate` RU per second with one second of burst; a request may take the
// budget below zero (a big batch still passes once), then the next waits until it is positive
// again. take() returns 0 when the request may run, else the milliseconds to wait (what the
// service puts in x-ms-retry-after-ms).
class Budget {
  constructor(rate, now) {
    this.rate = rate;
    this.tokens = rate;
    this.last = now;
  }

  take(cost, now) {
    this.tokens = Math.min(this.rate, this.tokens + (this.rate * (now - this.last)) / 1000);
    this.last = now;
    if (this.tokens <= 0) return Math.max(1, Math.ceil((-this.tokens * 1000) / this.rate));
    this.tokens -= cost;
    return 0;
  }
}

module.exports = { MIN_EPK, MAX_EPK, boundary, spaceTop, normalizeDefinition, epkOf, parsePartitionKey, RangeMap, Budget };
