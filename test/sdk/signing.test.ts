import { verify } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import nacl from 'tweetnacl';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { base58Decode, base58Encode } from '../../src/protocol/index.js';
import {
  agentIdOf,
  generateKeypair,
  keypairFromSecretKey,
  loadKeypair,
  MachPayConfigError,
  signAgentRequest,
  signedBytes,
} from '../../src/sdk/index.js';
import { publicKeyObject } from './fake-receiver.js';

describe('signedBytes (docs/protocol.md §3)', () => {
  it('is the ASCII prefix followed by the body bytes', () => {
    const body = new Uint8Array([0x1f, 0x8b, 0, 255]);
    const bytes = signedBytes(1700000000123, '/v1/agent', body);
    const prefix = 'machpay-v1\n1700000000123\n/v1/agent\n';
    expect(Buffer.from(bytes.subarray(0, prefix.length)).toString('ascii')).toBe(prefix);
    expect([...bytes.subarray(prefix.length)]).toEqual([0x1f, 0x8b, 0, 255]);
  });
});

describe('signAgentRequest', () => {
  const keypair = generateKeypair();
  const body = new TextEncoder().encode('[{"hello":"world"}]');

  it('produces headers that node:crypto (OpenSSL) verifies, and tweetnacl agrees', async () => {
    const headers = await signAgentRequest(keypair, '/v1/agent', body, 1700000000123.7);
    expect(headers['X-MachPay-Agent']).toBe(keypair.agentId);
    expect(headers['X-MachPay-Timestamp']).toBe('1700000000123');
    const sigText = headers['X-MachPay-Signature'] ?? '';
    expect(sigText).toMatch(/^[A-Za-z0-9+/]{86}==$/); // standard base64, padded, 64 bytes
    const sig = Buffer.from(sigText, 'base64');
    const message = signedBytes(1700000000123, '/v1/agent', body);
    const pub = base58Decode(headers['X-MachPay-Agent'] ?? '', 32);
    expect(pub).not.toBeNull();
    expect(verify(null, message, publicKeyObject(pub as Uint8Array), sig)).toBe(true);
    expect(nacl.sign.detached.verify(message, sig, keypair.publicKey)).toBe(true);
    // and it covers everything: another path, timestamp or body byte fails
    expect(verify(null, signedBytes(1700000000123, '/v1/ingest', body), publicKeyObject(keypair.publicKey), sig)).toBe(false);
    expect(verify(null, signedBytes(1700000000124, '/v1/agent', body), publicKeyObject(keypair.publicKey), sig)).toBe(false);
  });

  it('accepts an asynchronous custom signer and checks what it returns', async () => {
    const asyncSigner = { publicKey: keypair.publicKey, sign: (m: Uint8Array) => Promise.resolve(keypair.sign(m)) };
    const headers = await signAgentRequest(asyncSigner, '/v1/agent', body, 1);
    expect(headers['X-MachPay-Agent']).toBe(keypair.agentId);
    const broken = { publicKey: keypair.publicKey, sign: () => new Uint8Array(10) };
    await expect(signAgentRequest(broken, '/v1/agent', body)).rejects.toThrow(/64-byte/);
  });
});

describe('keypairs', () => {
  const secret = generateKeypair().exportSecretKey();
  const expectedId = base58Encode(secret.subarray(32));

  it('load from bytes, base58, a Solana id.json array, or a 32-byte seed', () => {
    expect(keypairFromSecretKey(secret).agentId).toBe(expectedId);
    expect(keypairFromSecretKey(base58Encode(secret)).agentId).toBe(expectedId);
    expect(keypairFromSecretKey(JSON.stringify([...secret])).agentId).toBe(expectedId);
    expect(keypairFromSecretKey([...secret]).agentId).toBe(expectedId);
    expect(keypairFromSecretKey(secret.subarray(0, 32)).agentId).toBe(expectedId);
    expect(agentIdOf(secret.subarray(32))).toBe(expectedId);
  });

  it('refuse malformed secrets, naming the source', () => {
    const tampered = secret.slice();
    tampered[40] = (tampered[40] as number) ^ 1;
    expect(() => keypairFromSecretKey(tampered)).toThrow(/public half/);
    expect(() => keypairFromSecretKey('[1,2,3]', 'MY_VAR')).toThrow(/MY_VAR/);
    expect(() => keypairFromSecretKey('[1,2,300]')).toThrow(MachPayConfigError);
    expect(() => keypairFromSecretKey('not base58 0OIl')).toThrow(MachPayConfigError);
    expect(() => agentIdOf(new Uint8Array(31))).toThrow(MachPayConfigError);
  });

  it('never print the secret when logged or serialised', () => {
    const kp = keypairFromSecretKey(secret);
    const b58 = base58Encode(secret);
    expect(JSON.stringify(kp)).not.toContain(b58);
    expect(inspect(kp, { depth: 5 })).not.toContain(String(secret[0]) + ', ' + String(secret[1]) + ', ' + String(secret[2]));
    expect(kp.exportSecretKeyBase58()).toBe(b58);
  });

  describe('loadKeypair', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'machpay-sdk-'));
    });
    afterAll(async () => {
      vi.unstubAllEnvs();
      await rm(dir, { recursive: true, force: true });
    });

    it('prefers the environment variable, then the file, else null', async () => {
      const file = join(dir, 'id.json');
      await writeFile(file, JSON.stringify([...secret]) + '\n');
      vi.stubEnv('MACHPAY_AGENT_SECRET', '');
      expect((await loadKeypair({ file }))?.agentId).toBe(expectedId);
      expect(await loadKeypair({ file: join(dir, 'missing.json') })).toBeNull();
      expect(await loadKeypair()).toBeNull();

      const other = generateKeypair();
      vi.stubEnv('MACHPAY_AGENT_SECRET', other.exportSecretKeyBase58());
      expect((await loadKeypair({ file }))?.agentId).toBe(other.agentId);
      expect((await loadKeypair({ env: null, file }))?.agentId).toBe(expectedId);

      vi.stubEnv('MACHPAY_AGENT_SECRET', '[1,2]');
      await expect(loadKeypair()).rejects.toThrow(/MACHPAY_AGENT_SECRET/);
      await writeFile(join(dir, 'bad.txt'), 'garbage');
      await expect(loadKeypair({ env: null, file: join(dir, 'bad.txt') })).rejects.toThrow(/bad\.txt/);
    });
  });
});
