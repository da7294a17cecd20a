/** Base58 (Bitcoin alphabet), the form of Solana addresses and of agent ids (docs/protocol.md §3). */

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const INDEX = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) INDEX[ALPHABET.charCodeAt(i)] = i;

export function base58Encode(bytes: Uint8Array): string {
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  // Little-endian base-58 digits of the big number, grown as needed.
  const digits: number[] = [];
  for (let i = zeros; i < bytes.length; i++) {
    let carry = bytes[i] as number;
    for (let j = 0; j < digits.length; j++) {
      carry += (digits[j] as number) << 8;
      digits[j] = carry % 58;
      carry = (carry / 58) | 0;
    }
    while (carry > 0) {
      digits.push(carry % 58);
      carry = (carry / 58) | 0;
    }
  }
  let out = '1'.repeat(zeros);
  for (let i = digits.length - 1; i >= 0; i--) out += ALPHABET[digits[i] as number];
  return out;
}

/** Decodes into exactly `expectedLength` bytes, or returns null for any malformed input. */
export function base58Decode(text: string, expectedLength: number): Uint8Array | null {
  if (text.length === 0 || text.length > expectedLength * 2) return null;
  const out = new Uint8Array(expectedLength);
  let zeros = 0;
  while (zeros < text.length && text.charCodeAt(zeros) === 49 /* '1' */) zeros++;
  // Big-endian accumulate into `out`, tracking how many low bytes are in use.
  let used = 0;
  for (let i = zeros; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? (INDEX[c] as number) : -1;
    if (v < 0) return null;
    let carry = v;
    for (let j = 0; j < used || carry > 0; j++) {
      const k = expectedLength - 1 - j;
      if (k < 0) return null;
      carry += (out[k] as number) * 58;
      out[k] = carry & 0xff;
      carry >>= 8;
      if (j >= used) used = j + 1;
    }
  }
  if (zeros + used !== expectedLength) return null;
  return out;
}
