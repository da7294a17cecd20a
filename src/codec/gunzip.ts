/**
 * Bounded gzip decoding. zlib stops inflating as soon as the output would pass
 * `maxOutputLength`, so a small bomb costs at most `maxBytes` of memory and the CPU to
 * produce it.
 */
import { gunzipSync } from 'node:zlib';

export type GunzipResult =
  | { ok: true; body: Uint8Array }
  | { ok: false; code: 'body_too_large' | 'invalid_body'; message: string };

export function gunzipBounded(body: Uint8Array, maxBytes: number): GunzipResult {
  try {
    // zlib refuses a maxOutputLength below 1; the explicit check keeps a limit of 0 exact.
    const out = gunzipSync(body, { maxOutputLength: Math.max(1, maxBytes) });
    if (out.length > maxBytes) return tooLarge(maxBytes);
    return { ok: true, body: out };
  } catch (err) {
    if ((err as { code?: unknown } | null)?.code === 'ERR_BUFFER_TOO_LARGE') {
      return tooLarge(maxBytes);
    }
    return { ok: false, code: 'invalid_body', message: 'The body is not valid gzip data.' };
  }
}

function tooLarge(maxBytes: number): GunzipResult {
  return { ok: false, code: 'body_too_large', message: `The decompressed body is over ${maxBytes} bytes.` };
}
