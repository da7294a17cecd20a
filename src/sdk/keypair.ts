import nacl from 'tweetnacl';
import { base58Decode, base58Encode } from '../protocol/index.js';
import { MachPayConfigError } from './errors.js';
import { readKeyFile } from './key-file.js';
import type { AgentSigner } from './signing.js';

/**
 * Ed25519 keypairs for agents, in the forms Solana tooling uses: a 64-byte secret key
 * (32-byte seed followed by the public key) as base58, or as a JSON array of 64 numbers
 * (`id.json`). Signing uses tweetnacl, which runs on every JS runtime.
 */
export class AgentKeypair implements AgentSigner {
  /** Private so that logging or JSON-serialising a keypair never prints the secret. */
  readonly #secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
  /** The base58 public key: the agent id of docs/protocol.md §3. */
  readonly agentId: string;

  private constructor(secretKey: Uint8Array, publicKey: Uint8Array) {
    this.#secretKey = secretKey;
    this.publicKey = publicKey;
    this.agentId = base58Encode(publicKey);
  }

  /** @internal Use {@link generateKeypair} or {@link keypairFromSecretKey}. */
  static fromNacl(pair: nacl.SignKeyPair): AgentKeypair {
    return new AgentKeypair(pair.secretKey, pair.publicKey);
  }

  sign(message: Uint8Array): Uint8Array {
    return nacl.sign.detached(message, this.#secretKey);
  }

  /** A copy of the 64-byte secret key, for saving it. Handle with care. */
  exportSecretKey(): Uint8Array {
    return this.#secretKey.slice();
  }

  /** The secret as base58, the form MACHPAY_AGENT_SECRET accepts. Handle with care. */
  exportSecretKeyBase58(): string {
    return base58Encode(this.#secretKey);
  }

  toJSON(): { agentId: string } {
    return { agentId: this.agentId };
  }
}

export function generateKeypair(): AgentKeypair {
  return AgentKeypair.fromNacl(nacl.sign.keyPair());
}

/** The agent id (base58) of a 32-byte Ed25519 public key. */
export function agentIdOf(publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== nacl.sign.publicKeyLength) {
    throw new MachPayConfigError('publicKey', 'must be a 32-byte Uint8Array');
  }
  return base58Encode(publicKey);
}

/**
 * A keypair from a 64-byte secret key (bytes, base58, or a JSON array of numbers), or from
 * a 32-byte seed. A 64-byte key whose public half does not match its seed is refused:
 * tweetnacl would sign with it, and every signature would fail to verify.
 */
export function keypairFromSecretKey(secret: Uint8Array | string | readonly number[], key = 'secretKey'): AgentKeypair {
  const bytes = secretBytes(secret, key);
  if (bytes.length === nacl.sign.seedLength) return AgentKeypair.fromNacl(nacl.sign.keyPair.fromSeed(bytes));
  if (bytes.length !== nacl.sign.secretKeyLength) throw new MachPayConfigError(key, `must be 64 bytes (or a 32-byte seed), got ${bytes.length}`);
  const derived = nacl.sign.keyPair.fromSeed(bytes.subarray(0, 32));
  for (let i = 0; i < 32; i++) {
    if (derived.publicKey[i] !== bytes[32 + i]) throw new MachPayConfigError(key, 'the public half does not match the seed');
  }
  return AgentKeypair.fromNacl(derived);
}

function secretBytes(secret: Uint8Array | string | readonly number[], key: string): Uint8Array {
  if (secret instanceof Uint8Array) return secret.slice();
  if (Array.isArray(secret)) return numberArrayBytes(secret, key);
  if (typeof secret !== 'string') throw new MachPayConfigError(key, 'must be bytes, base58 text or a JSON array of numbers');
  const text = secret.trim();
  if (text.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new MachPayConfigError(key, 'looks like a JSON array but does not parse');
    }
    if (!Array.isArray(parsed)) throw new MachPayConfigError(key, 'must be a JSON array of numbers');
    return numberArrayBytes(parsed, key);
  }
  const decoded = base58Decode(text, nacl.sign.secretKeyLength) ?? base58Decode(text, nacl.sign.seedLength);
  if (decoded === null) throw new MachPayConfigError(key, 'is neither base58 of 64 (or 32) bytes nor a JSON array');
  return decoded;
}

function numberArrayBytes(values: readonly unknown[], key: string): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) throw new MachPayConfigError(key, `element ${i} is not a byte`);
    out[i] = v;
  }
  return out;
}

export interface LoadKeypairOptions {
  /** Environment variable holding the secret. Default `MACHPAY_AGENT_SECRET`; `null` skips the environment. */
  env?: string | null | undefined;
  /** A file holding the secret (base58 text or a Solana `id.json` array). Read only when the variable is unset. */
  file?: string | undefined;
}

/**
 * Loads the agent keypair from the environment, else from a file. Resolves to null when
 * neither is present, so the caller decides whether to generate one; throws
 * {@link MachPayConfigError} naming the variable or file when one is present but malformed.
 */
export async function loadKeypair(options: LoadKeypairOptions = {}): Promise<AgentKeypair | null> {
  const envName = options.env === undefined ? 'MACHPAY_AGENT_SECRET' : options.env;
  if (envName !== null) {
    // process is absent in browsers and some edge runtimes; there the environment is simply empty.
    const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
    const value = env?.[envName];
    if (value !== undefined && value.trim() !== '') return keypairFromSecretKey(value, envName);
  }
  if (options.file !== undefined) {
    let text: string | null;
    try {
      text = await readKeyFile(options.file);
    } catch (err) {
      throw new MachPayConfigError(options.file, `cannot be read: ${(err as Error).message}`);
    }
    return text === null ? null : keypairFromSecretKey(text, options.file);
  }
  return null;
}
