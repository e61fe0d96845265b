// Conditional document writes at the rig's Cosmos front, as the service answers them, for the
// worker's versioned write mode (docs/write-modes.md). The backend (@vercel/cosmosdb-server
// 1.0.1) already applies the conditions themselves, one request at a time: batch operations
// Create (409 when the id exists), Read (404 when missing), Replace with "ifMatch" (412 when the
// _etag differs, 404 when missing), and the single-document POST (create), GET and PUT with an
// If-Match header. What the front adds:
//   * a single GET of a missing document answers 404 (the backend answers 500 unless the
//     request carries x-ms-documentdb-query-enablecrosspartition);
//   * "Prefer: return=minimal" drops the echoed documents of writes only: a Read's result keeps
//     its resourceBody, as the service's does (SDK batch.ts OperationResponse.resourceBody);
//   * counting: documents written (write operations answered < 300, reads excluded) and every
//     operation by type and status (ops["Create 409"]), for the write-mode bench.
// Operation shapes as the SDKs send them: Azure/azure-sdk-for-js sdk/cosmosdb/cosmos/src/utils/
// batch.ts ({operationType, id, partitionKey, ifMatch, resourceBody}).
"use strict";

const isBatch = (req) => String(req.headers["x-ms-cosmos-is-batch-request"]).toLowerCase() === "true";
const WRITE_TYPES = new Set(["Create", "Upsert", "Replace", "Patch"]);

// The operation type of a single-document request.
function singleType(req) {
  if (req.method === "GET") return "Read";
  if (req.method === "PUT") return "Replace";
  if (req.method === "PATCH") return "Patch";
  if (req.method === "DELETE") return "Delete";
  return String(req.headers["x-ms-documentdb-is-upsert"]).toLowerCase() === "true" ? "Upsert" : "Create";
}

// Request headers to send the backend for a document request (a copy when changed).
function backendHeaders(req, kind, headers) {
  if (req.method === "GET" && kind === "doc") return { ...headers, "x-ms-documentdb-query-enablecrosspartition": "True" };
  return headers;
}

function parse(buf) {
  try { return JSON.parse(buf.toString()); } catch (e) { return undefined; }
}

// [{type, status}] of a document request and its answer (batch: one per operation).
function operations(req, reqBody, status, data) {
  if (!isBatch(req)) return [{ type: singleType(req), status }];
  const ops = parse(reqBody), results = parse(data);
  if (!Array.isArray(ops)) return [];
  if (!Array.isArray(results)) return ops.map((o) => ({ type: o && o.operationType, status }));
  return ops.map((o, i) => ({ type: o && o.operationType, status: results[i] ? results[i].statusCode : status }));
}

// Documents a document request wrote: [written, created].
function docsWritten(req, reqBody, status, data) {
  if (status < 200 || status >= 300) return [0, 0];
  const writes = operations(req, reqBody, status, data).filter((o) => WRITE_TYPES.has(o.type) && o.status < 300);
  return [writes.length, writes.filter((o) => o.status === 201).length];
}

// Adds a document request's operations to counts ({"Create 201": n, ...}).
function countOperations(counts, req, reqBody, status, data) {
  for (const o of operations(req, reqBody, status, data)) {
    const k = `${o.type} ${o.status}`;
    counts[k] = (counts[k] || 0) + 1;
  }
}

// A successful write answer without the written documents; reads keep theirs.
function minimalAnswer(req, reqBody, data) {
  if (!isBatch(req)) return req.method === "GET" ? data : Buffer.alloc(0);
  const ops = parse(reqBody), results = parse(data);
  if (!Array.isArray(results)) return data;
  return Buffer.from(JSON.stringify(results.map((r, i) => {
    if (!r || (Array.isArray(ops) && ops[i] && ops[i].operationType === "Read")) return r;
    const { resourceBody, ...rest } = r;
    return rest;
  })));
}

module.exports = { backendHeaders, docsWritten, countOperations, minimalAnswer, operations };
