import * as grpc from '@grpc/grpc-js';
import { connect, signers, hash } from '@hyperledger/fabric-gateway';
import * as crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';

// Usage: node interop.mjs NETWORK_DIR HOST:PORT [USER]
// Submits, evaluates, follows chaincode and block events through the dev ledger with Hyperledger's own
// Node client, and exits non-zero if anything differs from what a Fabric peer would answer.

const dir = process.argv[2];
const address = process.argv[3];
const user = process.argv[4] ?? 'networkadmin';
const msp = path.join(dir, `organizations/peerOrganizations/org1.example.com/users/${user}@org1.example.com/msp`);
const certDir = path.join(msp, 'signcerts');
const cert = await fs.readFile(path.join(certDir, (await fs.readdir(certDir))[0]));
const key = crypto.createPrivateKey(await fs.readFile(path.join(msp, 'keystore/priv_sk')));
const client = new grpc.Client(address, grpc.credentials.createInsecure());
const gateway = connect({
  client,
  identity: { mspId: 'Org1MSP', credentials: cert },
  signer: signers.newPrivateKeySigner(key),
  hash: hash.sha256,
});
try {
  const network = gateway.getNetwork('reciprocal');
  const contract = network.getContract('reciprocal');
  const events = await network.getChaincodeEvents('reciprocal');
  const id = 'club-node-' + Date.now();
  const result = await contract.submitTransaction('CreateClub', JSON.stringify({ id, name: 'Node Club', msp_id: 'Org1MSP' }));
  const created = JSON.parse(Buffer.from(result).toString());
  assert.equal(created.status, 'active');
  console.log('submit ok:', created.status);
  const club = await contract.evaluateTransaction('GetClub', id);
  assert.equal(JSON.parse(Buffer.from(club).toString()).id, id);
  console.log('evaluate ok:', id);
  for await (const event of events) {
    assert.equal(event.eventName, 'ClubAdmitted');
    assert.equal(event.chaincodeName, 'reciprocal');
    console.log('event ok:', event.eventName, 'block', event.blockNumber, 'tx', event.transactionId.slice(0, 12));
    break;
  }
  events.close();
  let refused = false;
  try {
    await contract.evaluateTransaction('GetClub', 'no-such-club');
  } catch (error) {
    refused = true;
    assert.match(error.details?.[0]?.message ?? error.message, /404, club no-such-club does not exist/);
    console.log('error ok:', error.constructor.name, error.code, error.details?.[0]?.message ?? error.message);
  }
  assert.ok(refused, 'an unknown club must be refused');
  const blocks = await network.getBlockEvents({ startBlock: 0n });
  let count = 0;
  for await (const block of blocks) {
    count++;
    if (count >= 2) break;
  }
  blocks.close();
  assert.equal(count, 2);
  console.log('block events ok:', count);
} finally {
  gateway.close();
  client.close();
}
