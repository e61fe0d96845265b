#!/usr/bin/env node
// Local Cosmos DB for the ordersink tests: @vercel/cosmosdb-server (the "backend") behind our own
// HTTPS "front" that checks the master-key signature (the backend checks nothing) and injects
// faults, plus a plain-HTTP admin server to steer the faults and read counters.
// All three bind 127.0.0.1 on free ports, written as JSON to the ports file once all listen.
//
// Usage: COSMOS_KEY=<base64> node cosmos.js --cert server.pem --key server.key --ca ca.pem --ports-file F
//        (each option can also come from env: COSMOS_TLS_CERT, COSMOS_TLS_KEY, COSMOS_CA_FILE, COSMOS_PORTS_FILE)
//        node cosmos.js --self-test      # checks the signer/verifier against RIG.md's known answers
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const http = require("http");
const https = require("https");
const conditional = require("./conditional");
const opfaults = require("./opfaults");
const nostore = require("./nostore"); // measurement-only sink that stores nothing (docs/benchmarks.md)

// ---------- master-key signature (RIG.md "Cosmos DB REST") ----------
function sign(key, verb, resourceType, resourceLink, date) {
  const text = `${verb.toLowerCase()}\n${resourceType.toLowerCase()}\n${resourceLink}\n${date.toLowerCase()}\n\n`;
  return crypto.createHmac("sha256", Buffer.from(key, "base64")).update(text, "utf8").digest("base64");
}

// Path -> [resourceType, resourceLink]: even segment count addresses one resource, odd a feed.
function resourceOf(pathname) {
  const segs = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (segs.length === 0) return ["", ""];
  if (segs.length % 2 === 0) return [segs[segs.length - 2], segs.join("/")];
  return [segs[segs.length - 1], segs.slice(0, -1).join("/")];
}

// Returns null when the Authorization header carries the right signature, else an error message.
// ridLink: the resource-id form of the link to check instead (partition_front.js ridAuthLink).
function checkSignature(key, verb, pathname, authHeader, date, ridLink) {
  if (!authHeader) return "Required Header authorization is missing.";
  let decoded;
  try { decoded = decodeURIComponent(authHeader); } catch (e) { return "Malformed authorization header."; }
  const parts = {};
  for (const kv of decoded.split("&")) {
    const i = kv.indexOf("=");
    if (i > 0) parts[kv.slice(0, i).toLowerCase()] = kv.slice(i + 1);
  }
  if (parts.type !== "master" || parts.ver !== "1.0" || !parts.sig) return "Malformed authorization header.";
  const [type, nameLink] = resourceOf(pathname);
  const link = ridLink ?? nameLink;
  const want = Buffer.from(sign(key, verb, type, link, date));
  const got = Buffer.from(parts.sig);
  if (want.length !== got.length || !crypto.timingSafeEqual(want, got)) {
    return "The input authorization token can't serve the request. The wrong key is being used or the " +
      `expected payload is not built as per the protocol. Server used the following payload to sign: '${verb.toLowerCase()}\\n${type.toLowerCase()}\\n${link}\\n${date.toLowerCase()}\\n\\n'`;
  }
  return null;
}

function selfTest() {
  const vectors = [
    ["GET", "dbs", "dbs/ToDoList", "Thu, 27 Apr 2017 00:51:12 GMT",
      "dsZQi3KtZmCv1ljt3VNWNm7sQUF1y5rJfC6kv5JiwvW0EndXdDku/dkKBp8/ufDToSxLzR4y+O/0H/t4bQtVNw==",
      "c09PEVJrgp2uQRkr934kFbTqhByc7TVr3OHyqlu+c+c=", "/dbs/ToDoList",
      "type%3dmaster%26ver%3d1.0%26sig%3dc09PEVJrgp2uQRkr934kFbTqhByc7TVr3OHyqlu%2bc%2bc%3d"],
    ["GET", "dbs", "dbs/MyDatabase/colls/MyCollection", "Mon, 01 Jan 1900 01:00:00 GMT",
      "8F8xXXOptJxkblM1DBXW7a6NMI5oE8NnwPGYBmwxLCKfejOK7B7yhcCHMGvN3PBrlMLIOeol1Hv9RCdzAZR5sg==",
      "Qkz/r+1N2+PEnNijxGbGB/ADvLsLBQmZ7uBBMuIwf4I=", null, null],
  ];
  let bad = 0;
  const check = (name, ok) => { console.log(`${ok ? "ok  " : "FAIL"} ${name}`); if (!ok) bad++; };
  vectors.forEach(([verb, type, link, date, key, sig, path, header], i) => {
    check(`vector ${i + 1} signature`, sign(key, verb, type, link, date) === sig);
    if (path) {
      check(`vector ${i + 1} header accepted`, checkSignature(key, verb, path, header, date) === null);
      check(`vector ${i + 1} wrong date rejected`, checkSignature(key, verb, path, header, "x") !== null);
    }
  });
  const paths = [["/dbs/d/colls/c/docs", ["docs", "dbs/d/colls/c"]], ["/dbs/d/colls/c/docs/o1", ["docs", "dbs/d/colls/c/docs/o1"]],
    ["/dbs", ["dbs", ""]], ["/dbs/a%20b", ["dbs", "dbs/a b"]], ["/", ["", ""]]];
  for (const [p, want] of paths) check(`resourceOf(${p})`, JSON.stringify(resourceOf(p)) === JSON.stringify(want));
  process.exit(bad ? 1 : 0);
}

// ---------- options ----------
function opt(name, env) {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : process.env[env];
  if (!v) { console.error(`cosmos.js: missing --${name} (or $${env})`); process.exit(2); }
  return v;
}

// ---------- state ----------
// doc_writes: documents the backend acknowledged (a single upsert's 200/201, or each batch
// operation's statusCode < 300), so tests can count redeliveries exactly in bulk mode too;
// doc_creates: those answered 201 (a new document; 200 = replaced): the number of documents in
// containers written only through the front, without a query that scans them all.
// tracked: kafka.offset of every acknowledged write of the document whose id is faults.track_id,
// in the order the backend answered them (it applies writes one at a time).
const stats = () => ({ requests: 0, by_status: {}, auth_failures: 0, throttled: 0, injected_503: 0, dropped: 0, delayed: 0, rejected: 0, doc_writes: 0, doc_creates: 0, tracked: [], ops: {} });

// Offsets of the acknowledged writes of document `id` in one write request and its answer.
function trackedOffsets(req, reqBody, status, data, id) {
  if (status < 200 || status >= 300) return [];
  try {
    const body = JSON.parse(reqBody.toString());
    if (String(req.headers["x-ms-cosmos-is-batch-request"]).toLowerCase() !== "true")
      return body.id === id ? [body.kafka && body.kafka.offset] : [];
    const results = JSON.parse(data.toString());
    return body.map((op, i) => (op.resourceBody && op.resourceBody.id === id && results[i] && results[i].statusCode < 300
      ? op.resourceBody.kafka && op.resourceBody.kafka.offset : undefined)).filter((o) => o !== undefined);
  } catch (e) {
    return [];
  }
}

let counters = stats();
let faults = {};
let faultTimer = null;
const MAX_SKEW_MS = 15 * 60 * 1000; // RIG.md: the service accepts +-15 min

function cosmosError(res, status, code, message, headers = {}) {
  const body = JSON.stringify({ code, message });
  counters.by_status[status] = (counters.by_status[status] || 0) + 1;
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body),
    "x-ms-activity-id": crypto.randomUUID(), "x-ms-request-charge": "0", ...headers });
  res.end(body);
}

function main() {
  const masterKey = process.env.COSMOS_KEY;
  if (!masterKey) { console.error("cosmos.js: $COSMOS_KEY is required"); process.exit(2); }
  const tls = { cert: fs.readFileSync(opt("cert", "COSMOS_TLS_CERT")), key: fs.readFileSync(opt("key", "COSMOS_TLS_KEY")) };
  const ca = fs.readFileSync(opt("ca", "COSMOS_CA_FILE"));
  const portsFile = opt("ports-file", "COSMOS_PORTS_FILE");
  const { createHttpsServer } = require("@vercel/cosmosdb-server");

  const backend = createHttpsServer({ ...tls, keepAlive: true }); // keepAlive: the lib sends "connection: close" otherwise
  backend.keepAliveTimeout = 60000;
  backend.headersTimeout = 65000;
  const agent = new https.Agent({ keepAlive: true, maxSockets: 64, ca });
  let backendPort, frontPort;
  const partitions = require("./partition_front.js").create(() => ({ port: backendPort, agent })); // docs/rig-partitioning.md

  const front = https.createServer(tls, (req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => handle(req, res, Buffer.concat(chunks)));
  });
  front.keepAliveTimeout = 60000;
  front.headersTimeout = 65000;
  const sockets = new Set();
  front.on("connection", (s) => { sockets.add(s); s.on("close", () => sockets.delete(s)); });
  // TLS handshakes by kind: a client that reuses its sessions resumes (tests/bench/cost.py shows both).
  front.on("secureConnection", (s) => { const k = s.isSessionReused() ? "tls_resumed" : "tls_full"; counters[k] = (counters[k] || 0) + 1; });

  async function handle(req, res, body) {
    counters.requests++;
    const pathname = new URL(req.url, "https://x").pathname;
    const date = req.headers["x-ms-date"];
    const when = date ? Date.parse(date) : NaN;
    if (!date || Number.isNaN(when) || Math.abs(Date.now() - when) > MAX_SKEW_MS) {
      counters.auth_failures++;
      return cosmosError(res, 401, "Unauthorized", `The request date is missing or off by more than 15 minutes (x-ms-date: '${date || ""}', server time: '${new Date().toUTCString()}').`);
    }
    let authErr = checkSignature(masterKey, req.method, pathname, req.headers.authorization, date);
    const ridLink = authErr && await partitions.ridAuthLink(pathname); // the Java SDK signs resource-id links
    if (ridLink && !checkSignature(masterKey, req.method, pathname, req.headers.authorization, date, ridLink)) authErr = null;
    if (authErr) { counters.auth_failures++; return cosmosError(res, 401, "Unauthorized", authErr); }
    const routed = await partitions.route(req, pathname, body); // ranges: pkranges, refusals, RU budget
    if (routed) {
      counters.by_status[routed.status] = (counters.by_status[routed.status] || 0) + 1;
      res.writeHead(routed.status, routed.headers);
      return res.end(routed.body);
    }

    const isWrite = ["POST", "PUT", "DELETE"].includes(req.method) && resourceOf(pathname)[0] === "docs";
    let opPlan = null; // per-operation faults (opfaults.js)
    if (isWrite) {
      // delay_ms: every write waits this long; delay_jitter_ms: plus a random 0..jitter, so
      // writes sent in one order can be answered in another.
      const delay = (faults.delay_ms || 0) + Math.floor(Math.random() * (faults.delay_jitter_ms || 0));
      if (delay > 0) { counters.delayed++; await new Promise((r) => setTimeout(r, delay)); }
      if (Math.random() < (faults.drop_ratio || 0)) { counters.dropped++; return req.socket.destroy(); }
      if (Math.random() < (faults.throttle_ratio || 0)) {
        counters.throttled++;
        const ms = String(faults.retry_after_ms ?? 100);
        return cosmosError(res, 429, "429", `Message: {"Errors":["Request rate is large. More Request Units may be needed, so no changes were made. Please retry this request later."]}`,
          { "x-ms-retry-after-ms": ms, "x-ms-substatus": "3200" });
      }
      if (Math.random() < (faults.error503_ratio || 0)) {
        counters.injected_503++;
        return cosmosError(res, 503, "ServiceUnavailable", "Service is currently unavailable (injected by the test rig).");
      }
      // reject_marker: a write whose body contains this string is refused with 400, as Cosmos
      // refuses a document it can never accept (the local server accepts almost anything).
      if (faults.reject_marker && body.includes(faults.reject_marker)) {
        counters.rejected++;
        return cosmosError(res, 400, "BadRequest", "One of the specified inputs is invalid (rejected by the test rig's reject_marker).");
      }
      if (req.method === "POST" && (opPlan = opfaults.split(faults, counters, req, body)) && opPlan.reply) return opPlan.reply(res);
    }

    const docRequest = resourceOf(pathname)[0] === "docs" && String(req.headers["x-ms-documentdb-isquery"]).toLowerCase() !== "true" &&
      (isWrite || pathname.split("/").filter(Boolean).length % 2 === 0);
    const fwd = opPlan ? opPlan.body : body;
    if (docRequest && nostore.answer(req, res, body, counters)) return;
    const headers = conditional.backendHeaders(req, docRequest ? "doc" : "feed", { ...req.headers, "content-length": fwd.length });
    delete headers.connection; delete headers["transfer-encoding"]; delete headers["keep-alive"];
    const breq = https.request({ host: "127.0.0.1", port: backendPort, method: req.method, path: req.url, headers, agent }, (bres) => {
      const out = [];
      bres.on("data", (c) => out.push(c));
      bres.on("end", () => {
        let data = Buffer.concat(out);
        if (opPlan) [bres.statusCode, data] = opPlan.merge(bres.statusCode, data); // injected results back in place
        if (pathname === "/") data = Buffer.from(data.toString().split(`:${backendPort}/`).join(`:${frontPort}/`));
        // Prefer: return=minimal (the SDKs' EnableContentResponseOnWrite=false): the service
        // answers a write without echoing the document; the local server always echoes it.
        if (docRequest && bres.statusCode < 300 && /return=minimal/i.test(req.headers.prefer || "")) {
          data = conditional.minimalAnswer(req, body, data);
        }
        const h = { ...bres.headers, "content-length": data.length };
        delete h.connection; delete h["transfer-encoding"]; delete h["keep-alive"];
        if (!h["x-ms-request-charge"]) h["x-ms-request-charge"] = "1";
        counters.by_status[bres.statusCode] = (counters.by_status[bres.statusCode] || 0) + 1;
        if (docRequest) {
          const [written, created] = conditional.docsWritten(req, body, bres.statusCode, data);
          counters.doc_writes += written;
          counters.doc_creates += created;
          conditional.countOperations(counters.ops, req, body, bres.statusCode, data);
        }
        partitions.landed(req, bres.statusCode, data);
        if (isWrite && faults.track_id) counters.tracked.push(...trackedOffsets(req, body, bres.statusCode, data, faults.track_id));
        if (res.socket && !res.socket.destroyed) { res.writeHead(bres.statusCode, h); res.end(data); }
      });
    });
    breq.on("error", (e) => { if (!res.headersSent) cosmosError(res, 502, "BadGateway", `rig backend error: ${e.message}`); });
    breq.end(fwd);
  }

  // "refuse": stop listening and cut every open connection; listen again on the same port afterwards.
  function setRefuse(on) {
    if (on && front.listening) {
      front.close();
      for (const s of sockets) s.destroy();
    } else if (!on && !front.listening) {
      front.listen(frontPort, "127.0.0.1");
    }
  }
  function applyFaults(f) {
    clearTimeout(faultTimer);
    faults = f || {};
    setRefuse(!!faults.refuse);
    if (faults.duration_ms > 0) faultTimer = setTimeout(() => applyFaults({}), faults.duration_ms);
  }

  const admin = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const reply = (status, obj) => { res.writeHead(status, { "content-type": "application/json" }); res.end(JSON.stringify(obj)); };
      try {
        const part = await partitions.admin(req.method, req.url, Buffer.concat(chunks).toString()) ||
          nostore.admin(req.method, req.url, Buffer.concat(chunks).toString());
        if (part) return reply(...part);
        if (req.method === "POST" && req.url === "/faults") { applyFaults(JSON.parse(Buffer.concat(chunks).toString() || "{}")); return reply(200, faults); }
        if (req.method === "POST" && req.url === "/reset") { applyFaults({}); return reply(200, faults); }
        if (req.method === "POST" && req.url === "/stats/reset") { counters = stats(); return reply(200, counters); }
        if (req.method === "GET" && req.url === "/stats") return reply(200, { ...counters, partitioning: partitions.stats() });
        if (req.method === "GET" && req.url === "/faults") return reply(200, faults);
        return reply(404, { error: "no route" });
      } catch (e) { return reply(400, { error: e.message }); }
    });
  });

  const listen = (srv) => new Promise((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => resolve(srv.address().port));
  });
  (async () => {
    backendPort = await listen(backend);
    frontPort = await listen(front);
    const adminPort = await listen(admin);
    front.on("error", (e) => console.error("front:", e.message));
    const tmp = `${portsFile}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ front_port: frontPort, backend_port: backendPort, admin_port: adminPort }));
    fs.renameSync(tmp, portsFile);
    console.log(`cosmos rig: front https://127.0.0.1:${frontPort} backend https://127.0.0.1:${backendPort} admin http://127.0.0.1:${adminPort}`);
  })().catch((e) => { console.error(e); process.exit(1); });
  for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
}

if (process.argv.includes("--self-test")) selfTest();
else main();
