/**
 * Agent keys for the remote mode (`--key-file`). An agent needs no registration: its id is
 * its Ed25519 public key (docs/protocol.md §3), so a key file only matters when the
 * deployment's data should belong to known agents (a console login, alert rules, a test that
 * counts their rows). One key per line, in any of the forms agents keep them in:
 *
 * - 64 hex digits: the 32-byte private key seed;
 * - 128 hex digits: the 64-byte NaCl / Solana secret key (seed followed by the public key);
 * - a JSON array of 64 (or 32) byte values: a Solana CLI keypair file's one line.
 *
 * Blank lines and lines starting with `#` are skipped.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

// PKCS#8 DER of an Ed25519 private key: this fixed header, then the 32-byte seed.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function seedOf(line: string): Buffer | null {
  if (/^[0-9a-fA-F]{64}$/.test(line) || /^[0-9a-fA-F]{128}$/.test(line)) return Buffer.from(line.slice(0, 64), 'hex');
  if (line.startsWith('[')) {
    let bytes: unknown;
    try {
      bytes = JSON.parse(line);
    } catch {
      return null;
    }
    if (!Array.isArray(bytes) || (bytes.length !== 64 && bytes.length !== 32)) return null;
    if (!bytes.every((b) => Number.isInteger(b) && (b as number) >= 0 && (b as number) <= 255)) return null;
    return Buffer.from((bytes as number[]).slice(0, 32));
  }
  return null;
}

/** The private keys in `text`; throws naming the first line that is not a key (never its content). */
export function parseAgentKeys(text: string): KeyObject[] {
  const keys: KeyObject[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '' || line.startsWith('#')) continue;
    const seed = seedOf(line);
    if (seed === null) throw new Error(`line ${i + 1} is not an Ed25519 key (64 or 128 hex digits, or a JSON array of 64 bytes)`);
    keys.push(createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' }));
  }
  if (keys.length === 0) throw new Error('no keys');
  return keys;
}

export function readAgentKeys(path: string): KeyObject[] {
  try {
    return parseAgentKeys(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`--key-file ${path}: ${(err as Error).message}`);
  }
}
