import nacl from 'tweetnacl';
import type { EventType } from '../protocol/index.js';
import { MachPayConfigError } from './errors.js';

/** The event types of docs/protocol.md §5: one dependency-free module shared with the receiver. */
export { EVENT_TYPES, type EventType } from '../protocol/index.js';

/** An int64 as the chosen body encoding writes it (see batch-encoding.ts). */
export type WireInt64 = number | string | bigint;

/** A value inside an event's `data`: what JSON and MessagePack can both carry. */
export type EventValue = string | number | boolean | bigint | null | { readonly [key: string]: EventValue };

/** A structured-mode CloudEvent 1.0 (docs/protocol.md §2). Built once at record time, never mutated. */
export interface CloudEvent {
  readonly specversion: '1.0';
  /** Stable for the life of the event, so a retried batch is stored once (§2). */
  readonly id: string;
  readonly source: string;
  readonly type: EventType;
  /** RFC 3339, UTC. */
  readonly time: string;
  readonly data: { readonly [key: string]: EventValue };
}

// URI-reference by character set (RFC 3986: unreserved, reserved, %XX), as the receiver checks it.
const URI_REFERENCE = /^(?:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+$/;

/** Validates an emitter's CloudEvents `source` option (non-empty URI-reference, ≤ 256 characters). */
export function checkSource(source: unknown): string {
  if (typeof source !== 'string' || source.length === 0 || source.length > 256 || !URI_REFERENCE.test(source)) {
    throw new MachPayConfigError('source', 'must be a non-empty URI-reference of at most 256 ASCII characters (percent-encode the rest)');
  }
  return source;
}

export function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}

// Random ids come from tweetnacl's CSPRNG adapter (crypto.getRandomValues or node:crypto),
// which exists on every runtime the SDK targets, unlike a global crypto.randomUUID on
// Node 18. Bytes are drawn 4 KiB at a time so an id costs one slice, not a syscall.
const POOL_BYTES = 4096;
let pool: Uint8Array = new Uint8Array(0);
let poolPos = POOL_BYTES;
const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, '0'));

/** A random RFC 4122 version-4 UUID. */
export function randomUuid(): string {
  if (poolPos + 16 > pool.length) {
    pool = nacl.randomBytes(POOL_BYTES);
    poolPos = 0;
  }
  const b = pool;
  const p = poolPos;
  poolPos += 16;
  const h = (i: number): string => HEX[b[p + i] as number] as string;
  const v = HEX[((b[p + 6] as number) & 0x0f) | 0x40] as string;
  const r = HEX[((b[p + 8] as number) & 0x3f) | 0x80] as string;
  return `${h(0)}${h(1)}${h(2)}${h(3)}-${h(4)}${h(5)}-${v}${h(7)}-${r}${h(9)}-${h(10)}${h(11)}${h(12)}${h(13)}${h(14)}${h(15)}`;
}
