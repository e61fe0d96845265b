'use strict';
// route.js: the partition key range of each partition key, as the rig's front routes it, so that
// tests/bench/run.py can measure the sink ceiling of a many-range container with batches grouped
// by range (as the SDKs and the worker send them).
//   node route.js VERSION RANGES < keys.txt   (one partition key JSON per line, e.g. ["c42"])
// prints one range id per line, for a container of RANGES even ranges of Hash VERSION.
const readline = require('readline');
const { RangeMap, epkOf } = require('../rig/partitioning.js');

const [version, count] = process.argv.slice(2).map(Number);
const map = new RangeMap({ paths: ['/customerId'], kind: 'Hash', version }, count);
const out = [];
readline.createInterface({ input: process.stdin })
  .on('line', (line) => out.push(map.rangeOf(epkOf(map.def, JSON.parse(line))).id))
  .on('close', () => process.stdout.write(out.join('\n') + (out.length ? '\n' : '')));
