'use strict';
// front_harness: starts the rig's Cosmos front (cosmos.js, with its backend) alone for node tests,
// on free ports with a throw-away CA and server certificate, and signs requests to it as a REST
// client does (RIG.md "Cosmos DB REST"). No Kafka. Used by partition_front.test.js and
// sdk-referee.test.js.
const { spawn, execFileSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const https = require('https');
const os = require('os');
const path = require('path');

function makeTls(dir) {
  const ossl = (...args) => execFileSync('openssl', args, { stdio: 'ignore' });
  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=front harness CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', `${dir}/ca.key`, '-out', `${dir}/ca.pem`);
  ossl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', `${dir}/server.key`, '-out', `${dir}/server.csr`);
  fs.writeFileSync(`${dir}/server.ext`, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  ossl('x509', '-req', '-in', `${dir}/server.csr`, '-CA', `${dir}/ca.pem`, '-CAkey', `${dir}/ca.key`, '-CAcreateserial',
    '-days', '2', '-extfile', `${dir}/server.ext`, '-out', `${dir}/server.pem`);
}

// Starts cosmos.js; resolves {endpoint, admin, key, ca, agent, proc, stop()}.
async function startFront() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'front-'));
  makeTls(dir);
  const key = crypto.randomBytes(64).toString('base64');
  const ports = `${dir}/ports.json`;
  const log = fs.openSync(`${dir}/cosmos.out`, 'w');
  const proc = spawn(process.execPath, [path.join(__dirname, 'cosmos.js'), '--cert', `${dir}/server.pem`, '--key', `${dir}/server.key`,
    '--ca', `${dir}/ca.pem`, '--ports-file', ports], { env: { ...process.env, COSMOS_KEY: key }, stdio: ['ignore', log, log] });
  const deadline = Date.now() + 20000;
  while (!fs.existsSync(ports)) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`cosmos.js did not start: ${fs.readFileSync(`${dir}/cosmos.out`)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const p = JSON.parse(fs.readFileSync(ports));
  const ca = fs.readFileSync(`${dir}/ca.pem`);
  const agent = new https.Agent({ keepAlive: true, ca });
  const stop = () => {
    agent.destroy();
    if (proc.exitCode === null) proc.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { endpoint: `https://127.0.0.1:${p.front_port}`, adminUrl: `http://127.0.0.1:${p.admin_port}`, key, ca, agent, proc, stop };
}

// Path -> [resourceType, name link] (even segment count: one resource; odd: a feed).
function resourceOf(pathname) {
  const segs = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (segs.length === 0) return ['', ''];
  if (segs.length % 2 === 0) return [segs[segs.length - 2], segs.join('/')];
  return [segs[segs.length - 1], segs.slice(0, -1).join('/')];
}

function authorization(key, verb, type, link, date) {
  const text = `${verb.toLowerCase()}\n${type.toLowerCase()}\n${link}\n${date.toLowerCase()}\n\n`;
  const sig = crypto.createHmac('sha256', Buffer.from(key, 'base64')).update(text, 'utf8').digest('base64');
  return encodeURIComponent(`type=master&ver=1.0&sig=${sig}`);
}

// A signed request through the front: resolves {status, headers, body (parsed JSON or text)}.
// opts.link: the link to sign instead of the name link; opts.rawHeaders: header values sent as
// latin1 bytes unchanged (for raw non-ASCII).
function request(front, method, pathname, opts = {}) {
  const date = new Date().toUTCString();
  const [type, link] = resourceOf(pathname);
  const body = opts.body === undefined ? null : Buffer.from(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body));
  const headers = { 'x-ms-date': date, 'x-ms-version': '2020-07-15', accept: 'application/json',
    authorization: authorization(front.key, method, type, opts.link ?? link, date),
    ...(body ? { 'content-type': 'application/json', 'content-length': body.length } : {}), ...opts.headers };
  return new Promise((resolve, reject) => {
    const req = https.request(`${front.endpoint}${pathname}`, { method, headers, agent: front.agent }, (res) => {
      const out = [];
      res.on('data', (c) => out.push(c));
      res.on('end', () => {
        const text = Buffer.concat(out).toString();
        let parsed = text;
        try { parsed = JSON.parse(text); } catch (e) { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

// An admin call: resolves the parsed answer; throws on a status >= 300.
async function admin(front, method, pathname, body) {
  const r = await fetch(`${front.adminUrl}${pathname}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const out = await r.json();
  if (r.status >= 300) throw new Error(`admin ${method} ${pathname}: ${r.status} ${JSON.stringify(out)}`);
  return out;
}

module.exports = { startFront, request, admin, resourceOf };
