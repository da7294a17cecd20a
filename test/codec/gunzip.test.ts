import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { gunzipBounded } from '../../src/codec/index.js';

describe('gunzipBounded', () => {
  const text = Buffer.from('[' + '{"a":1},'.repeat(1000) + '{"a":1}]');
  const gz = gzipSync(text);

  it('decompresses within the limit', () => {
    const r = gunzipBounded(gz, 1 << 20);
    expect(r.ok).toBe(true);
    if (r.ok) expect(Buffer.from(r.body).equals(text)).toBe(true);
  });

  it('accepts output exactly at the limit', () => {
    expect(gunzipBounded(gz, text.length).ok).toBe(true);
  });

  it('refuses output over the limit with body_too_large (a bomb stops at the limit)', () => {
    const r = gunzipBounded(gz, text.length - 1);
    expect(r).toMatchObject({ ok: false, code: 'body_too_large' });
    const bomb = gzipSync(Buffer.alloc(64 << 20));
    expect(bomb.length).toBeLessThan(100_000);
    expect(gunzipBounded(bomb, 8 << 20)).toMatchObject({ ok: false, code: 'body_too_large' });
  });

  it('treats a limit of 0 exactly', () => {
    expect(gunzipBounded(gzipSync(Buffer.alloc(0)), 0).ok).toBe(true);
    expect(gunzipBounded(gzipSync(Buffer.from('x')), 0)).toMatchObject({ ok: false, code: 'body_too_large' });
  });

  it('refuses truncated and corrupt data with invalid_body', () => {
    expect(gunzipBounded(gz.subarray(0, gz.length - 10), 1 << 20)).toMatchObject({ ok: false, code: 'invalid_body' });
    expect(gunzipBounded(gz.subarray(0, 5), 1 << 20)).toMatchObject({ ok: false, code: 'invalid_body' });
    expect(gunzipBounded(new Uint8Array(0), 1 << 20)).toMatchObject({ ok: false, code: 'invalid_body' });
    expect(gunzipBounded(text, 1 << 20)).toMatchObject({ ok: false, code: 'invalid_body' });
    const corrupt = Buffer.from(gz);
    corrupt[20] = (corrupt[20] as number) ^ 0xff;
    corrupt[21] = (corrupt[21] as number) ^ 0xff;
    expect(gunzipBounded(corrupt, 1 << 20)).toMatchObject({ ok: false, code: 'invalid_body' });
  });

  it('decodes concatenated gzip members as one body', () => {
    const r = gunzipBounded(Buffer.concat([gzipSync('ab'), gzipSync('cd')]), 100);
    expect(r.ok && Buffer.from(r.body).toString()).toBe('abcd');
  });
});
