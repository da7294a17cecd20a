/**
 * The gateway counts of schema/postgres/012 in a tally: the worker's groups carry them per
 * status class and verified payment, and a group whose classes do not fit within its
 * successes and failures is refused before it could be folded for good.
 */
import { describe, expect, it } from 'vitest';
import { BodyKind, decodeAndEncode, RowBatch, RowTally, unpackGroups, type RowGroup } from '../../src/codec/index.js';
import { pendingTallyParams, PendingTallyError } from '../../src/rollups/pending-tallies.js';
import { Endpoint } from '../../src/protocol/index.js';
import { gatewayEvent } from '../helpers/agent.js';
import { agentGroup, gatewayGroup } from './support.js';

const ctx = { endpoint: Endpoint.Ingest, agentId: '', tenantId: 'tenant-c', maxEvents: 1000 };
const MINUTE = Date.UTC(2026, 10, 21, 10, 15);

function request(status: number, verified: boolean | undefined, vendor = 'v1') {
  const e = gatewayEvent({ time: '2026-11-21T10:15:42.5Z', data: { gateway_id: 'gw-c', vendor_id: vendor, status_code: status } });
  const data = e.data as Record<string, unknown>;
  if (verified === undefined) delete data.payment_verified;
  else data.payment_verified = verified;
  return e;
}

describe('gateway status classes in the rollup groups', () => {
  it('counts every class and verified payment of the accepted rows', () => {
    const out = new RowBatch();
    out.tally = new RowTally();
    const body = [
      request(100, true),
      request(200, true),
      request(204, false),
      request(302, undefined),
      request(404, true),
      request(429, false),
      request(503, true),
      request(700, true), // invalid status: not stored, not counted
      request(201, true, 'v2'),
    ];
    const r = decodeAndEncode(Buffer.from(JSON.stringify(body)), BodyKind.JsonBatch, null, ctx, out);
    expect(r).toMatchObject({ ok: true, accepted: 8 });
    const groups: RowGroup[] = [];
    unpackGroups(out.tally.pack(), groups);
    groups.sort((a, b) => a.vendorId.localeCompare(b.vendorId));
    expect(groups).toEqual([
      expect.objectContaining({ kind: 'gateway', minute: MINUTE, tenantId: 'tenant-c', vendorId: 'v1', requests: 7, successes: 4, failures: 3, status2xx: 2, status3xx: 1, status4xx: 2, status5xx: 1, paymentsVerified: 4 }),
      expect.objectContaining({ vendorId: 'v2', requests: 1, successes: 1, status2xx: 1, status3xx: 0, status4xx: 0, status5xx: 0, paymentsVerified: 1 }),
    ]);
  });

  it('refuses classes that do not fit the group, and accepts a gateway group that states none', () => {
    const g = gatewayGroup('t', 'gw', 'v', MINUTE, [1, 2, 3, 4], 2);
    expect(() => pendingTallyParams([g])).not.toThrow();
    expect(() => pendingTallyParams([{ ...g, status2xx: 2, status4xx: 2, paymentsVerified: 4 }])).not.toThrow();
    for (const bad of [{ status2xx: 3 }, { status4xx: 2, status5xx: 1 }, { paymentsVerified: 5 }, { status3xx: -1 }, { status2xx: 0.5 }]) {
      expect(() => pendingTallyParams([{ ...g, ...bad }]), JSON.stringify(bad)).toThrow(PendingTallyError);
    }
    expect(() => pendingTallyParams([{ ...agentGroup('a', 'v', MINUTE, [1]), status2xx: 1 }])).toThrow(PendingTallyError);
  });
});
