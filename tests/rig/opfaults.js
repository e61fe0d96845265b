"use strict";
// opfaults: per-operation faults inside Cosmos bulk (batch) answers, for the rig's front
// (cosmos.js). The service answers a non-atomic batch 200/207 with one result per operation;
// some may be 429/503/410/413 while the others were written (RIG.md "Batch"). The front asks
// split() before forwarding a write: operations given an injected status are NOT sent to the
// backend (so nothing the answer calls failed is written), and merge() puts their results back
// in request order around the backend's own.
//
// Fault settings (keys of the front's fault set, POST /faults):
//   op_throttle_ratio, op_503_ratio, op_410_ratio: share of batch operations answered 429
//     (retryAfterMilliseconds = op_retry_after_ms, default 50, subStatusCode 3200), 503, 410
//     (subStatusCode 0: plain Gone, retried without a range refresh);
//   op_markers: {"TEXT": status}: an operation (or a single upsert) whose document contains TEXT
//     is answered that status every time (e.g. 503 = never written, 413 = refused for good).
// Counters (GET /stats): op_injected {status: n}.

const RATIOS = [["op_throttle_ratio", 429], ["op_503_ratio", 503], ["op_410_ratio", 410]];

function active(faults) {
  return RATIOS.some(([k]) => faults[k] > 0) || (faults.op_markers && Object.keys(faults.op_markers).length > 0);
}

// The status to inject for one document's JSON text, or 0.
function pick(faults, text) {
  for (const [marker, status] of Object.entries(faults.op_markers || {}))
    if (text.includes(marker)) return Number(status);
  for (const [k, status] of RATIOS)
    if (Math.random() < (faults[k] || 0)) return status;
  return 0;
}

function result(faults, status) {
  const r = { statusCode: status, subStatusCode: status === 429 ? 3200 : 0, requestCharge: 0 };
  if (status === 429) r.retryAfterMilliseconds = Number(faults.op_retry_after_ms ?? 50);
  return r;
}

function count(counters, status) {
  counters.op_injected = counters.op_injected || {};
  counters.op_injected[status] = (counters.op_injected[status] || 0) + 1;
}

function sendJson(res, status, obj, headers = {}) {
  const body = Buffer.from(JSON.stringify(obj));
  res.writeHead(status, { "content-type": "application/json", "content-length": body.length,
    "x-ms-request-charge": "0", "x-ms-activity-id": require("crypto").randomUUID(), ...headers });
  res.end(body);
}

// For one write request: null (forward as is), or {body, reply(res) | null, merge(status, data)}.
// reply is set when nothing is left to forward (answer at once); else forward `body` and pass the
// backend's answer through merge, which returns [status, data].
function split(faults, counters, req, body) {
  if (!active(faults) || String(req.headers["x-ms-documentdb-isquery"]).toLowerCase() === "true") return null;
  const isBatch = String(req.headers["x-ms-cosmos-is-batch-request"]).toLowerCase() === "true";
  if (!isBatch) { // a single upsert: only markers apply (the request-level faults cover the rest)
    const text = body.toString();
    const status = Object.entries(faults.op_markers || {}).find(([m]) => text.includes(m));
    if (!status) return null;
    count(counters, status[1]);
    return { body, reply: (res) => sendJson(res, Number(status[1]), { code: String(status[1]), message: "injected by the test rig's op_markers" },
      Number(status[1]) === 429 ? { "x-ms-retry-after-ms": String(faults.op_retry_after_ms ?? 50) } : {}) };
  }
  let ops;
  try { ops = JSON.parse(body.toString()); } catch (e) { return null; }
  if (!Array.isArray(ops)) return null;
  const injected = ops.map((op) => pick(faults, JSON.stringify(op.resourceBody || {})));
  if (!injected.some(Boolean)) return null;
  injected.forEach((s) => { if (s) count(counters, s); });
  const forward = ops.filter((_, i) => !injected[i]);
  const merge = (status, data) => {
    let theirs = [];
    if (forward.length) {
      if (status !== 200 && status !== 207) return [status, data]; // a whole-request answer stands
      try { theirs = JSON.parse(data.toString()); } catch (e) { return [status, data]; }
    }
    let j = 0;
    const all = injected.map((s) => (s ? result(faults, s) : theirs[j++]));
    return [207, Buffer.from(JSON.stringify(all))];
  };
  if (!forward.length) {
    return { body, reply: (res) => { const [s, d] = merge(207, null); sendJson(res, s, JSON.parse(d.toString())); } };
  }
  return { body: Buffer.from(JSON.stringify(forward)), reply: null, merge };
}

module.exports = { split };
