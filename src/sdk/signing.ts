import { base58Encode, binaryModeSignedLines, SIGNATURE_HEADERS, SIGNED_BINARY_MODE_HEADERS, signingPrefix } from '../protocol/index.js';

/**
 * The agent request signature of docs/protocol.md §3, computed by the producer.
 *
 * Signed bytes: ASCII `machpay-v1\n{timestamp}\n{path}\n`, in binary mode the ce-* header
 * lines (`ce-specversion:{v}\n` … `ce-time:{v}\n`), then the body exactly as transmitted,
 * i.e. after gzip. One signature covers a whole batch; a retry signs again
 * with a fresh timestamp so it stays inside the receiver's ±300 s window.
 */

/** Anything that can produce a detached Ed25519 signature: a keypair, a KMS, a hardware wallet. */
export interface AgentSigner {
  /** The 32-byte Ed25519 public key; its base58 form is the agent id. */
  readonly publicKey: Uint8Array;
  /** Returns the 64-byte detached Ed25519 signature of `message`. */
  sign(message: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/**
 * The CloudEvents binary-mode headers of a request, exactly as they are sent; `ce-time` may
 * be left out (it is then signed as empty). Their values must be printable ASCII.
 */
export interface BinaryModeHeaders {
  'ce-specversion': string;
  'ce-id': string;
  'ce-source': string;
  'ce-type': string;
  'ce-time'?: string;
}

const ascii = new TextEncoder();

/** The exact bytes the signature covers; pass `binaryMode` for a binary-mode request. */
export function signedBytes(timestampMs: number, path: string, body: Uint8Array, binaryMode?: BinaryModeHeaders): Uint8Array {
  let text = signingPrefix(timestampMs, path);
  if (binaryMode !== undefined) text += binaryModeSignedLines(SIGNED_BINARY_MODE_HEADERS.map((h) => binaryMode[h]));
  const prefix = ascii.encode(text);
  const out = new Uint8Array(prefix.length + body.length);
  out.set(prefix, 0);
  out.set(body, prefix.length);
  return out;
}

/** Standard base64 with padding. btoa exists in Node ≥ 16, browsers and edge runtimes. */
export function base64Encode(bytes: Uint8Array): string {
  // Spreading is fine for the 64-byte signatures this encodes; not for large buffers.
  return btoa(String.fromCharCode(...bytes));
}

/**
 * Signs one request and returns its three headers. `agentId` is the base58 public key;
 * pass it in when it is already known so it is not re-encoded per request. A binary-mode
 * request passes the ce-* headers it sends as `binaryMode`: they are signed too.
 */
export async function signAgentRequest(
  signer: AgentSigner,
  path: string,
  body: Uint8Array,
  timestampMs: number = Date.now(),
  agentId: string = base58Encode(signer.publicKey),
  binaryMode?: BinaryModeHeaders,
): Promise<Record<string, string>> {
  const timestamp = Math.floor(timestampMs);
  const signature = await signer.sign(signedBytes(timestamp, path, body, binaryMode));
  if (!(signature instanceof Uint8Array) || signature.length !== 64) throw new TypeError('signer.sign() must return a 64-byte Uint8Array');
  return {
    [SIGNATURE_HEADERS.agent]: agentId,
    [SIGNATURE_HEADERS.timestamp]: String(timestamp),
    [SIGNATURE_HEADERS.signature]: base64Encode(signature),
  };
}
