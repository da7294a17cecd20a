import { createHmac, timingSafeEqual } from 'node:crypto';
import type { LogPosition } from './log-position.js';

/** What an event id carries: where it is in the log and when it was sent (ms since the epoch). */
export interface DecodedEventId {
  position: LogPosition;
  sentAtMs: number;
}

const MAC_BYTES = 12;
const ID_PATTERN = /^([0-9a-z]{1,13})\.([0-9]{1,2})\.([0-9a-z]{1,7})\.([0-9a-z]{1,9})\.([A-Za-z0-9_-]{16})$/;

/**
 * Event ids: `xid.source.ordinal.sentAt` in base 36 plus a MAC with the deployment's secret.
 *
 * The send time lets any receiver tell whether an id is inside the resume window without
 * shared state; the MAC keeps a client from claiming an old position is recent (which would
 * make a receiver read an unbounded stretch of the log). The ids are opaque to clients.
 *
 * The MAC covers the transaction id and the send time only: those bound what a resume may
 * read. A client that alters the source or ordinal only moves its resume point within one
 * transaction that has ended. So the events of one transaction sent in one millisecond share
 * one MAC, computed once: an HMAC costs several times what the rest of an event's frame does.
 */
export class EventIdCodec {
  private lastSigned = '';
  private lastMac = '';

  constructor(private readonly secret: Buffer) {}

  encode(p: LogPosition, sentAtMs: number): string {
    const xid = p.xid.toString(36);
    const sent = Math.floor(sentAtMs).toString(36);
    const signed = `${xid}.${sent}`;
    if (signed !== this.lastSigned) {
      this.lastSigned = signed;
      this.lastMac = this.mac(signed);
    }
    return `${xid}.${p.source}.${p.ordinal.toString(36)}.${sent}.${this.lastMac}`;
  }

  /** The id's position and time, or null when it is not an id this deployment issued. */
  decode(id: string): DecodedEventId | null {
    const m = ID_PATTERN.exec(id);
    if (m === null) return null;
    const [, xid, source, ordinal, sent, mac] = m as unknown as [string, string, string, string, string, string];
    const expected = Buffer.from(this.mac(`${xid}.${sent}`));
    if (!timingSafeEqual(expected, Buffer.from(mac))) return null;
    return {
      position: { xid: parseBase36BigInt(xid), source: Number(source), ordinal: parseInt(ordinal, 36) },
      sentAtMs: parseInt(sent, 36),
    };
  }

  private mac(body: string): string {
    return createHmac('sha256', this.secret).update('machpay-stream-id\n').update(body).digest().subarray(0, MAC_BYTES).toString('base64url');
  }
}

function parseBase36BigInt(text: string): bigint {
  let n = 0n;
  for (const ch of text) n = n * 36n + BigInt(parseInt(ch, 36));
  return n;
}
