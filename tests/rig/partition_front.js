'use strict';
// partition_front: the Cosmos DB partitioning contract enforced by the rig's front (cosmos.js), in
// front of @vercel/cosmosdb-server, which has one range and accepts anything. Per container: its
// range map (partitioning.js), paged /pkranges (plain and incremental feed), refusal of batches and
// writes the service refuses (no range id, gone or unknown range, an operation outside the named
// range, raw non-ASCII or malformed partition key), a per-range RU budget (429), per-range
// counters, admin routes (configure, split, state, epk), and resource-id links for signatures.
// The container's definition and _rids come from the backend, read once per container.
const crypto = require('crypto');
const https = require('https');
const { RangeMap, Budget, epkOf, parsePartitionKey, normalizeDefinition } = require('./partitioning.js');

const REFUSALS = ['missing_range_id', 'range_gone', 'range_unknown', 'outside_range', 'pk_non_ascii', 'pk_invalid', 'pk_mismatch', 'throttled'];
const truthy = (v) => String(v).toLowerCase() === 'true';

function segmentsOf(pathname) {
  try {
    return pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch (e) {
    return [];
  }
}

function answer(status, obj, headers = {}) {
  const body = Buffer.from(JSON.stringify(obj));
  return { status, body, headers: { 'content-type': 'application/json', 'content-length': body.length,
    'x-ms-activity-id': crypto.randomUUID(), 'x-ms-request-charge': '0', ...headers } };
}

function refusal(state, reason, status, substatus, code, message, headers = {}) {
  if (state) state.refused[reason]++;
  return answer(status, { code, message }, { ...(substatus ? { 'x-ms-substatus': String(substatus) } : {}), ...headers });
}

// backend(): {port, agent} of the backend, known once it listens.
function create(backend) {
  const containers = new Map(); // "dbSeg/collSeg" (ids or _rids) -> state
  let now = () => Date.now();

  function backendGet(path) {
    const { port, agent } = backend();
    return new Promise((resolve) => {
      const req = https.request({ host: '127.0.0.1', port, method: 'GET', path, agent,
        headers: { 'x-ms-version': '2020-07-15', 'x-ms-date': new Date().toUTCString(), accept: 'application/json' } }, (res) => {
        const out = [];
        res.on('data', (c) => out.push(c));
        res.on('end', () => {
          try {
            resolve(res.statusCode === 200 ? JSON.parse(Buffer.concat(out).toString()) : null);
          } catch (e) {
            resolve(null);
          }
        });
      });
      req.on('error', () => resolve(null));
      req.end();
    });
  }

  function newState(dbDoc, collDoc, count) {
    const map = new RangeMap(collDoc.partitionKey, count);
    return { db: dbDoc.id, coll: collDoc.id, dbRid: dbDoc._rid, collRid: collDoc._rid, map,
      config: { require_range_id: false, page_size: null, ru_per_second: null, ru_per_op: 1, ru_per_second_by_range: null },
      budgets: new Map(), landed: {}, batches: {}, refused: Object.fromEntries(REFUSALS.map((r) => [r, 0])) };
  }

  function register(state) {
    containers.set(`${state.db}/${state.coll}`, state);
    containers.set(`${state.dbRid}/${state.collRid}`, state);
  }

  // The state of container dbSeg/collSeg (ids or _rids), read from the backend on first use;
  // null when the backend does not know it.
  async function lookup(dbSeg, collSeg, fresh = false) {
    const known = containers.get(`${dbSeg}/${collSeg}`);
    if (known && !fresh) return known;
    const enc = encodeURIComponent;
    const dbDoc = await backendGet(`/dbs/${enc(dbSeg)}`);
    const collDoc = dbDoc && await backendGet(`/dbs/${enc(dbSeg)}/colls/${enc(collSeg)}`);
    if (!collDoc || !collDoc._rid) return null;
    if (known && known.collRid === collDoc._rid) return known;
    const state = newState(dbDoc, collDoc, 1); // a new container (or one made again under its name)
    register(state);
    return state;
  }

  // The resource-id form of the signed link for a path addressed by _rids (dbs/<db _rid>/...):
  // the addressed resource's own _rid (a feed's: its parent's), lower-cased, as the Java SDK signs
  // (BaseAuthorizationTokenProvider.generateKeyAuthorizationSignature lower-cases a link that is
  // not name based; PathsHelper.isNameBased: a link whose 4th character is '/'). null when the
  // path is not addressed by _rids of resources the backend has.
  async function ridAuthLink(pathname) {
    const segs = segmentsOf(pathname);
    if (segs[0] !== 'dbs' || segs.length < 2) return null;
    const db = await backendGet(`/dbs/${encodeURIComponent(segs[1])}`);
    if (!db || db._rid !== segs[1]) return null;
    if (segs.length >= 4) {
      const coll = await backendGet(`/dbs/${encodeURIComponent(segs[1])}/colls/${encodeURIComponent(segs[3])}`);
      if (!coll || coll._rid !== segs[3]) return null;
    }
    const link = segs.length % 2 === 0 ? segs : segs.slice(0, -1);
    return link[link.length - 1].toLowerCase();
  }

  // A range's RU per second: its own (ru_per_second_by_range: {id: n}, a hot range) or the container's.
  function rateOf(state, rangeId) {
    const own = (state.config.ru_per_second_by_range || {})[rangeId];
    return own > 0 ? own : state.config.ru_per_second;
  }

  function budgetOf(state, rangeId) {
    if (!state.budgets.has(rangeId)) state.budgets.set(rangeId, new Budget(rateOf(state, rangeId), now()));
    return state.budgets.get(rangeId);
  }

  // The range a request names in x-ms-documentdb-partitionkeyrangeid: {range} or {refused}. The
  // service answers 410 with sub-status 1002 (PartitionKeyRangeGone) for a range id its routing
  // map does not have, gone or never there (.NET/Java AddressResolver
  // HandleRangeAddressResolutionFailure -> PartitionKeyRangeGoneException).
  function namedRange(state, id) {
    const r = state.map.byId(id);
    if (r && !r.gone) return { range: r };
    const reason = r ? 'range_gone' : 'range_unknown';
    return { refused: refusal(state, reason, 410, 1002, 'Gone',
      `PartitionKeyRangeId ${id} is ${r ? 'gone (split)' : 'not found'} for collection ${state.collRid}.`) };
  }

  // Checks a batch (bulk) request: {routes: [range id per operation]} or {refused}.
  function routeBatch(state, req, body) {
    const live = state.map.live();
    const rangeId = req.headers['x-ms-documentdb-partitionkeyrangeid'];
    let range;
    if (rangeId !== undefined) {
      const named = namedRange(state, rangeId);
      if (named.refused) return named;
      range = named.range;
    } else if (req.headers['x-ms-documentdb-partitionkey'] === undefined) {
      // No range id, no partition key: the service serves it only from a container with one
      // range (AddressResolver TryResolveSinglePartitionCollection), else 400 MissingPartitionKeyValue.
      if (live.length > 1 || state.config.require_range_id) {
        return { refused: refusal(state, 'missing_range_id', 400, 0, 'BadRequest', 'PartitionKey value must be supplied for this operation.') };
      }
      range = live[0];
    }
    let ops;
    try {
      ops = JSON.parse(body.toString());
    } catch (e) {
      ops = null;
    }
    if (!Array.isArray(ops)) return { refused: answer(400, { code: 'BadRequest', message: 'The batch request body is not a JSON array.' }) };
    const routes = [];
    const header = req.headers['x-ms-documentdb-partitionkey'];
    for (let i = 0; i < ops.length; i++) {
      const raw = ops[i] && typeof ops[i].partitionKey === 'string' ? ops[i].partitionKey : header;
      const r = routeKey(state, raw === undefined ? '[]' : raw, range, `operation ${i}`);
      if (r.refused) return r;
      routes.push(r.range.id);
    }
    return { routes };
  }

  // Routes one partition key (raw JSON text) and checks it against the named range, if any.
  // An operation whose EPK lies outside the named live range is refused as 410/1002 for the whole
  // request: the SDKs' answer to it is the same as to a split (refresh the ranges, re-route;
  // JS bulkExecutionRetryPolicy, .NET BulkPartitionKeyRangeGoneRetryPolicy). No SDK source names
  // the status the service gives here; this is the rig's choice (docs/rig-partitioning.md).
  function routeKey(state, raw, named, what) {
    const pk = parsePartitionKey(raw, state.map.def);
    if (pk.error === 'non_ascii') return { refused: refusal(state, 'pk_non_ascii', 400, 0, 'BadRequest', pk.message) };
    if (pk.error === 'invalid') return { refused: refusal(state, 'pk_invalid', 400, 0, 'BadRequest', pk.message) };
    if (pk.error === 'mismatch') return { refused: refusal(state, 'pk_mismatch', 400, 1001, 'BadRequest', pk.message) };
    if (named && state.map.live().length === 1) return { range: named };
    let epk;
    try {
      epk = epkOf(state.map.def, pk.values);
    } catch (e) {
      return { refused: refusal(state, 'pk_invalid', 400, 0, 'BadRequest', `Partition key ${raw} is invalid.`) };
    }
    const range = state.map.rangeOf(epk);
    if (named && range !== named) {
      return { refused: refusal(state, 'outside_range', 410, 1002, 'Gone',
        `${what}: partition key ${raw} (EPK ${epk}) is not in partition key range ${named.id} ("${named.minInclusive}" .. "${named.maxExclusive}").`) };
    }
    return { range };
  }

  // Paged /pkranges: the live ranges (a plain read feed; the JS SDK takes every range it gets, so
  // gone parents must not appear), or with "A-IM: Incremental feed" every range created after the
  // If-None-Match etag, gone ones too (the .NET and Java caches read it so and drop parents),
  // 304 when nothing changed. Pages of min(page_size, x-ms-max-item-count), x-ms-continuation.
  function pkranges(state, req) {
    const incremental = /incremental/i.test(req.headers['a-im'] || '');
    const since = parseInt(String(req.headers['if-none-match'] || '').replace(/"/g, ''), 10);
    const etag = `"${state.map.lsn}"`;
    let list = incremental ? state.map.ranges.filter((r) => !(since >= r.lsn)) : state.map.live();
    if (incremental && list.length === 0) return { status: 304, body: Buffer.alloc(0), headers: { etag, 'x-ms-request-charge': '0' } };
    const limits = [state.config.page_size, parseInt(req.headers['x-ms-max-item-count'], 10)].filter((n) => n > 0);
    const size = limits.length ? Math.min(...limits) : list.length;
    const start = parseInt(req.headers['x-ms-continuation'], 10) || 0;
    const page = list.slice(start, start + size);
    const more = start + size < list.length;
    const live = state.map.live().length;
    const docs = page.map((r) => ({ id: r.id, _rid: `${state.collRid}#${r.id}`, _self: `dbs/${state.dbRid}/colls/${state.collRid}/pkranges/${r.id}/`,
      _etag: `"${r.lsn}"`, minInclusive: r.minInclusive, maxExclusive: r.maxExclusive, ridPrefix: Number(r.id),
      throughputFraction: r.gone ? 0 : 1 / live, status: r.gone ? 'splitting' : 'online', parents: r.parents, _ts: 0, _lsn: r.lsn }));
    return answer(200, { _rid: state.collRid, PartitionKeyRanges: docs, _count: docs.length },
      { etag, 'x-ms-item-count': String(docs.length), ...(more ? { 'x-ms-continuation': String(start + size) } : {}) });
  }

  // The front's hook, after the signature check: null to go on to the backend, or the answer
  // {status, headers, body} the front gives itself (pkranges, refusals). Keeps the routing of an
  // accepted write on req.partitionRoute for landed().
  async function route(req, pathname, body) {
    const segs = segmentsOf(pathname);
    if (segs[0] !== 'dbs' || segs[2] !== 'colls' || segs.length < 4) return null;
    if (segs.length === 4) {
      if (req.method === 'DELETE') containers.delete(`${segs[1]}/${segs[3]}`);
      return null;
    }
    const isQuery = truthy(req.headers['x-ms-documentdb-isquery']) || /query\+json/i.test(req.headers['content-type'] || '');
    const isPkranges = segs[4] === 'pkranges' && segs.length === 5 && req.method === 'GET';
    const isItem = segs[4] === 'docs' && segs.length === 6;
    const isWrite = segs[4] === 'docs' && segs.length === 5 && req.method === 'POST' && !isQuery;
    if (!isPkranges && !isItem && !isWrite) return null;
    const state = await lookup(segs[1], segs[3]);
    if (!state) return null;
    if (isPkranges) return pkranges(state, req);
    let routes;
    if (isWrite && truthy(req.headers['x-ms-cosmos-is-batch-request'])) {
      const r = routeBatch(state, req, body);
      if (r.refused) return r.refused;
      routes = r.routes;
    } else {
      const raw = req.headers['x-ms-documentdb-partitionkey'];
      const id = req.headers['x-ms-documentdb-partitionkeyrangeid'];
      let named;
      if (id !== undefined) {
        const n = namedRange(state, id);
        if (n.refused) return n.refused;
        named = n.range;
      }
      if (raw === undefined) {
        const live = state.map.live();
        if (!named && (live.length > 1 || state.config.require_range_id)) {
          return refusal(state, 'missing_range_id', 400, 0, 'BadRequest', 'PartitionKey value must be supplied for this operation.');
        }
        routes = [(named || live[0]).id];
      } else {
        const r = routeKey(state, raw, named, 'the request');
        if (r.refused) return r.refused;
        routes = [r.range.id];
      }
    }
    if ((state.config.ru_per_second > 0 || state.config.ru_per_second_by_range) && req.method !== 'GET') {
      const cost = {};
      for (const id of routes) cost[id] = (cost[id] || 0) + state.config.ru_per_op;
      for (const [id, ru] of Object.entries(cost)) {
        if (!(rateOf(state, id) > 0)) continue;
        const wait = budgetOf(state, id).take(ru, now());
        if (wait > 0) {
          return refusal(state, 'throttled', 429, 3200, '429',
            `Message: {"Errors":["Request rate is large. More Request Units may be needed, so no changes were made. Please retry this request later."]} (partition key range ${id})`,
            { 'x-ms-retry-after-ms': String(wait) });
        }
      }
    }
    req.partitionRoute = { state, routes, batch: isWrite && truthy(req.headers['x-ms-cosmos-is-batch-request']) };
    return null;
  }

  // Counts the operations of an accepted request that the backend acknowledged, per range.
  function landed(req, status, data) {
    const pr = req.partitionRoute;
    if (!pr || status >= 300 || req.method === 'GET') return;
    let ok = pr.routes.map(() => status < 300);
    if (pr.batch) {
      try {
        const results = JSON.parse(data.toString());
        ok = pr.routes.map((_, i) => Array.isArray(results) && results[i] && results[i].statusCode < 300);
      } catch (e) {
        ok = pr.routes.map(() => false);
      }
    }
    const first = pr.routes[0];
    pr.state.batches[first] = (pr.state.batches[first] || 0) + 1;
    pr.routes.forEach((id, i) => { if (ok[i]) pr.state.landed[id] = (pr.state.landed[id] || 0) + 1; });
  }

  function describe(state) {
    return { db: state.db, coll: state.coll, rid: state.collRid, partitionKey: state.map.def, lsn: state.map.lsn, config: state.config,
      ranges: state.map.ranges.map((r) => ({ id: r.id, minInclusive: r.minInclusive, maxExclusive: r.maxExclusive, parents: r.parents,
        gone: r.gone, landed: state.landed[r.id] || 0, batches: state.batches[r.id] || 0 })),
      refused: state.refused };
  }

  // Totals over every container: {refused: {reason: n}, landed: n}.
  function stats() {
    const seen = new Set([...containers.values()]);
    const refused = Object.fromEntries(REFUSALS.map((r) => [r, 0]));
    let landedOps = 0;
    for (const s of seen) {
      for (const r of REFUSALS) refused[r] += s.refused[r];
      landedOps += Object.values(s.landed).reduce((a, b) => a + b, 0);
    }
    return { refused, landed: landedOps };
  }

  // Admin routes under /partitioning (see docs/rig-partitioning.md). Returns [status, object] or
  // null when the route is not ours.
  async function admin(method, url, body) {
    const u = new URL(url, 'http://x');
    if (!u.pathname.startsWith('/partitioning')) return null;
    const args = method === 'GET' ? Object.fromEntries(u.searchParams) : JSON.parse(body || '{}');
    if (!args.db || !args.coll) return [400, { error: 'db and coll are required' }];
    const fresh = method === 'POST' && u.pathname === '/partitioning';
    const state = await lookup(args.db, args.coll, fresh);
    if (!state) return [404, { error: `no container ${args.db}/${args.coll} in the backend` }];
    if (method === 'GET' && u.pathname === '/partitioning') return [200, describe(state)];
    if (method !== 'POST') return [404, { error: 'no route' }];
    if (u.pathname === '/partitioning') {
      const def = state.map.def;
      for (const k of ['kind', 'version']) {
        if (args[k] !== undefined && String(args[k]) !== String(def[k])) {
          return [409, { error: `the container's partitionKey.${k} is ${def[k]}: create the container with the ${k} wanted` }];
        }
      }
      if (args.ranges !== undefined) state.map = new RangeMap(def, Number(args.ranges));
      for (const k of ['require_range_id', 'page_size', 'ru_per_second', 'ru_per_op', 'ru_per_second_by_range']) if (k in args) state.config[k] = args[k];
      if (state.config.ru_per_op == null) state.config.ru_per_op = 1;
      state.budgets.clear();
      return [200, describe(state)];
    }
    if (u.pathname === '/partitioning/split') {
      const children = state.map.split(String(args.range));
      return [200, { parent: String(args.range), children: children.map((r) => r.id), state: describe(state) }];
    }
    if (u.pathname === '/partitioning/epk') {
      const pk = parsePartitionKey(JSON.stringify(args.partitionKey), state.map.def);
      if (pk.error) return [400, { error: pk.message }];
      const epk = epkOf(state.map.def, pk.values);
      return [200, { epk, range: state.map.rangeOf(epk).id }];
    }
    return [404, { error: 'no route' }];
  }

  return { route, landed, ridAuthLink, admin, stats, setClock: (f) => { now = f; }, normalizeDefinition };
}

module.exports = { create };
