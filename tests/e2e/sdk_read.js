'use strict';
// Point reads with the official @azure/cosmos SDK (tests/rig/node_modules), for e2e tests: each
// document by its id and partition key, through the rig's front (which checks the key's range).
// stdin: {endpoint, key, db, coll, items: [[id, partitionKey], ...]} (partitionKey: a value, or an
// array for hierarchical keys); stdout: {read, missing: [ids], errors: [[id, code]], docs: {id: doc}}.
// The rig's CA comes through NODE_EXTRA_CA_CERTS.
const path = require('path');
const { CosmosClient } = require(path.join(__dirname, '..', 'rig', 'node_modules', '@azure/cosmos'));

async function main() {
  const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
  const client = new CosmosClient({ endpoint: input.endpoint, key: input.key });
  const container = client.database(input.db).container(input.coll);
  const out = { read: 0, missing: [], errors: [], docs: {} };
  for (const [id, pk] of input.items) {
    try {
      const { resource, statusCode } = await container.item(id, pk).read();
      if (!resource || statusCode === 404) out.missing.push(id);
      else {
        out.read++;
        out.docs[id] = resource;
      }
    } catch (e) {
      if (e.code === 404) out.missing.push(id);
      else out.errors.push([id, e.code || String(e)]);
    }
  }
  process.stdout.write(JSON.stringify(out));
}
main().catch((e) => { console.error(e); process.exit(1); });
