/**
 * Agents by seed, with their node:crypto signing keys cached: signing is on the hot path
 * of the fuzzer (one signature per case), and importing a key costs more than using it.
 */
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { newAgent, signedBytes, type TestAgent } from '../helpers/agent.js';

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface BookAgent {
  agent: TestAgent;
  agentId: string;
  key: KeyObject;
}

const book = new Map<string, BookAgent>();

export function agentFromSeed(seedHex: string): BookAgent {
  let entry = book.get(seedHex);
  if (entry === undefined) {
    const seed = Buffer.from(seedHex, 'hex');
    if (seed.length !== 32) throw new Error(`an agent seed is 32 bytes of hex, got ${JSON.stringify(seedHex)}`);
    const agent = newAgent(new Uint8Array(seed));
    const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    entry = { agent, agentId: agent.agentId, key };
    book.set(seedHex, entry);
  }
  return entry;
}

/**
 * The §3 signature (64 bytes) over `machpay-v1\n{timestamp}\n{path}\n`, in binary mode the
 * ce-* header lines (`binaryLines`, UTF-8 as the headers are written), then the body.
 */
export function signRequest(a: BookAgent, timestamp: string, path: string, body: Uint8Array, binaryLines = ''): Buffer {
  const signed = binaryLines === '' ? body : Buffer.concat([Buffer.from(binaryLines, 'utf8'), body]);
  return sign(null, signedBytes(timestamp, path, signed), a.key);
}
