import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a stream token grants: streams of these topics, as this tenant, until `expiresAtMs`. */
export interface StreamGrant {
  tenantId: string;
  topics: string[];
  expiresAtMs: number;
}

export const TOKEN_TTL_MS = 10 * 60_000;
const MAC_BYTES = 16;

/**
 * Stream tokens (docs/read-api.md §4): a browser's EventSource cannot send headers, so a
 * read key buys a short-lived token for the query string. The token is self-contained and
 * signed with the deployment's secret: any receiver of the deployment accepts it without a
 * lookup. It only opens streams; an open stream outlives it.
 */
export class StreamTokens {
  constructor(private readonly secret: Buffer) {}

  issue(grant: StreamGrant): string {
    const body = Buffer.from(JSON.stringify({ v: 1, t: grant.tenantId, s: grant.topics, e: grant.expiresAtMs })).toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  /** The grant of a token this deployment issued and that has not expired at `nowMs`, else null. */
  verify(token: string, nowMs: number): StreamGrant | null {
    const dot = token.indexOf('.');
    if (dot <= 0 || token.length > 4096) return null;
    const body = token.slice(0, dot);
    const mac = Buffer.from(token.slice(dot + 1));
    const expected = Buffer.from(this.mac(body));
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return null;
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return null;
    }
    const g = parsed as { v?: unknown; t?: unknown; s?: unknown; e?: unknown };
    if (g.v !== 1 || typeof g.t !== 'string' || typeof g.e !== 'number' || !Array.isArray(g.s)) return null;
    if (g.e <= nowMs) return null;
    return { tenantId: g.t, topics: g.s.filter((x): x is string => typeof x === 'string'), expiresAtMs: g.e };
  }

  private mac(body: string): string {
    return createHmac('sha256', this.secret).update('machpay-stream-token\n').update(body).digest().subarray(0, MAC_BYTES).toString('base64url');
  }
}
