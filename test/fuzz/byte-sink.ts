/**
 * A growable output buffer for the two writers: one allocation per doubling instead of one
 * per value, which would otherwise dominate the fuzzer's CPU time.
 */
export class ByteSink {
  private buf: Buffer = Buffer.allocUnsafe(4096);
  private length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  /** UTF-8 of `s` (well-formed; a lone surrogate would become U+FFFD). */
  text(s: string): void {
    this.reserve(s.length * 3);
    this.length += this.buf.write(s, this.length, 'utf8');
  }

  byte(...values: number[]): void {
    this.reserve(values.length);
    for (const v of values) this.buf[this.length++] = v & 0xff;
  }

  get size(): number {
    return this.length;
  }

  toBytes(): Uint8Array {
    return new Uint8Array(this.buf.subarray(0, this.length));
  }
}

/** `bytes` repeated `count` times, in one allocation. */
export function repeatBytes(bytes: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(bytes.length * count);
  for (let i = 0; i < count; i++) out.set(bytes, i * bytes.length);
  return out;
}
