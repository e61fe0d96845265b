// Non-storing sink, for measurement only (docs/benchmarks.md, "The worker's own ceiling"): when
// on, the front answers document writes itself, after the same date and signature checks and
// partition routing as always, and stores nothing, so the single-threaded backend is not the
// bottleneck and a bench shows the worker's own maximum orders/s per core.
// The answers have the service's shapes: a single write 201 with the document (or empty with
// "Prefer: return=minimal"); a batch 200 with one result per operation, as the backend gives
// them ({statusCode, requestCharge, eTag, resourceBody}). As a container that keeps nothing:
// Create and Upsert 201 (always new), Read, Replace and Delete 404 (never found), so the
// versioned write mode (Create, else Read + Replace) sees every order as new: a bench with
// nostore on measures mostly-new orders only. Counters move as for stored writes.
// Switched by the admin server: POST /nostore {"enabled": true|false}.
"use strict";
const crypto = require("crypto");
const conditional = require("./conditional");

let enabled = false;

const isBatch = (req) => String(req.headers["x-ms-cosmos-is-batch-request"]).toLowerCase() === "true";
const minimal = (req) => /return=minimal/i.test(req.headers.prefer || "");
const WRITES = new Set(["Create", "Upsert"]);

// What a store that keeps nothing answers to one operation of type `type` on document `doc`.
function result(type, doc, keepBody) {
  if (!WRITES.has(type)) return { statusCode: 404, requestCharge: 1 };
  const etag = `"${crypto.randomBytes(8).toString("hex")}"`;
  const r = { statusCode: 201, requestCharge: 1, eTag: etag };
  if (keepBody && doc && typeof doc === "object") {
    r.resourceBody = { ...doc, _rid: "nostore", _self: "", _etag: etag, _attachments: "attachments/", _ts: Math.floor(Date.now() / 1000) };
  }
  return r;
}

// Answers a document write when nostore is on: true when answered (counters updated), else false.
function answer(req, res, body, counters) {
  if (!enabled) return false;
  let status, data;
  if (isBatch(req)) {
    let ops;
    try { ops = JSON.parse(body.toString()); } catch (e) { ops = null; }
    if (!Array.isArray(ops)) return false; // the backend's 400 as usual
    status = 200;
    data = Buffer.from(JSON.stringify(ops.map((o) => result(o && o.operationType, o && o.resourceBody, !minimal(req)))));
  } else {
    const type = conditional.operations(req, body, 0, null)[0].type;
    const r = result(type, null, false);
    status = r.statusCode;
    data = status === 201 && !minimal(req) ? body : Buffer.alloc(0);
  }
  counters.by_status[status] = (counters.by_status[status] || 0) + 1;
  const [written, created] = conditional.docsWritten(req, body, status, data);
  counters.doc_writes += written;
  counters.doc_creates += created;
  conditional.countOperations(counters.ops, req, body, status, data);
  res.writeHead(status, { "content-type": "application/json", "content-length": data.length,
    "x-ms-activity-id": crypto.randomUUID(), "x-ms-request-charge": "1", "x-ms-session-token": "0:1#1" });
  res.end(data);
  return true;
}

// The admin route: POST /nostore {"enabled": bool}; [status, body] or null when not this route.
function admin(method, url, text) {
  if (url !== "/nostore") return null;
  if (method === "POST") enabled = !!JSON.parse(text || "{}").enabled;
  return [200, { enabled }];
}

module.exports = { answer, admin, result };
