/**
 * Hashes of keys PostgreSQL did not know, remembered for `ttlMs` and at most `maxEntries`
 * of them (the oldest forgotten first): a client repeating a wrong key costs one query per
 * TTL, and a flood of random keys cannot grow memory nor push known keys out of their own
 * cache. A key created later is found after the TTL at most.
 */
export class UnknownKeys {
  /** Hash (hex) → expiry (Date.now() ms), in insertion order. */
  private readonly entries = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  has(id: string, now = Date.now()): boolean {
    const expires = this.entries.get(id);
    if (expires === undefined) return false;
    if (expires > now) return true;
    this.entries.delete(id);
    return false;
  }

  add(id: string, now = Date.now()): void {
    this.entries.delete(id);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(id, now + this.ttlMs);
  }

  delete(id: string): void {
    this.entries.delete(id);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
