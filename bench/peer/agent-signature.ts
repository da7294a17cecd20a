import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { base58Decode } from '../../src/protocol/index.js';

/** DER header of an Ed25519 SubjectPublicKeyInfo; the 32 raw key bytes follow it. */
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const TIMESTAMP = /^\d{1,16}$/;
const SIGNATURE = /^[A-Za-z0-9+/]{86}==$/;
const WINDOW_MS = 300_000;
const MAX_CACHED_KEYS = 100_000;

export interface SignatureHeaders {
  agentId: string;
  timestamp: string;
  signature: Buffer;
  key: KeyObject;
}

/** Imported keys per agent: importing costs more than verifying (FINDINGS.md), so it is done once. */
const keys = new Map<string, KeyObject>();

/** Checks the three headers of docs/protocol.md §3; returns the error code, or what verify() needs. */
export function checkSignatureHeaders(agent: string | undefined, timestamp: string | undefined, signature: string | undefined): SignatureHeaders | string {
  if (agent === undefined || timestamp === undefined || signature === undefined || agent === '' || timestamp === '' || signature === '') {
    return 'missing_signature';
  }
  if (!TIMESTAMP.test(timestamp) || !SIGNATURE.test(signature)) return 'bad_signature';
  if (Math.abs(Date.now() - Number(timestamp)) > WINDOW_MS) return 'timestamp_out_of_window';
  let key = keys.get(agent);
  if (key === undefined) {
    const raw = base58Decode(agent, 32);
    if (raw === null) return 'bad_signature';
    try {
      key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
    } catch {
      return 'bad_signature';
    }
    if (keys.size >= MAX_CACHED_KEYS) keys.clear();
    keys.set(agent, key);
  }
  return { agentId: agent, timestamp, signature: Buffer.from(signature, 'base64'), key };
}

/** `signed` holds `machpay-v1\n{ts}\n{path}\n` followed by the body as transmitted. */
export function signatureVerifies(signed: Buffer, h: SignatureHeaders): boolean {
  try {
    return verify(null, signed, h.key, h.signature);
  } catch {
    return false;
  }
}
