/**
 * The worked signing example of docs/protocol.md §3 is true: the SDK and the Python example
 * producer, each from the documented seed, timestamp, path and body, give the documented
 * signed-bytes digest and signature.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { keypairFromSecretKey, signAgentRequest, signedBytes } from '../../src/sdk/index.js';
import { runPython } from './python-run.js';

const doc = await readFile(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
const section = doc.slice(doc.indexOf('### Worked example'), doc.indexOf('## 4.'));

function field(pattern: RegExp): string {
  const m = pattern.exec(section);
  if (m?.[1] === undefined) throw new Error(`docs/protocol.md §3 worked example: ${pattern} not found`);
  return m[1];
}

const example = {
  seedHex: field(/seed \(32 bytes, hex\): `([0-9a-f]{64})`/),
  publicKeyHex: field(/Public key \(hex\): `([0-9a-f]{64})`/),
  agentId: field(/`X-MachPay-Agent`: `([1-9A-HJ-NP-Za-km-z]+)`/),
  timestamp: field(/`X-MachPay-Timestamp`: `(\d+)`/),
  path: field(/Path: `([^`]+)`/),
  body: field(/```\n(.+)\n```/),
  digest: field(/SHA-256 is `([0-9a-f]{64})`/),
  signature: field(/`X-MachPay-Signature`:\s+`([A-Za-z0-9+/]{86}==)`/),
};

describe('docs/protocol.md §3 worked example', () => {
  it('matches the SDK', async () => {
    const keypair = keypairFromSecretKey(Buffer.from(example.seedHex, 'hex'));
    expect(Buffer.from(keypair.publicKey).toString('hex')).toBe(example.publicKeyHex);
    expect(keypair.agentId).toBe(example.agentId);
    const body = new TextEncoder().encode(example.body);
    expect(section).toContain(`Body (${body.length} bytes`);
    const signed = signedBytes(Number(example.timestamp), example.path, body);
    expect(createHash('sha256').update(signed).digest('hex')).toBe(example.digest);
    const headers = await signAgentRequest(keypair, example.path, body, Number(example.timestamp));
    expect(headers).toEqual({ 'X-MachPay-Agent': example.agentId, 'X-MachPay-Timestamp': example.timestamp, 'X-MachPay-Signature': example.signature });
  });

  it('matches the Python example producer (PyNaCl)', async () => {
    const script = [
      'import json, sys',
      'from machpay_producer.keys import key_from_secret',
      'from machpay_producer.base58 import b58encode',
      'from machpay_producer.signing import sign_request',
      'e = json.load(sys.stdin)',
      "key = key_from_secret(b58encode(bytes.fromhex(e['seedHex'])), 'seed')",
      "print(json.dumps(sign_request(key, e['path'], e['body'].encode(), int(e['timestamp']))))",
    ].join('\n');
    const run = await runPython(['-c', script], {}, 30_000, JSON.stringify(example));
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ 'X-MachPay-Agent': example.agentId, 'X-MachPay-Timestamp': example.timestamp, 'X-MachPay-Signature': example.signature });
  });
});
