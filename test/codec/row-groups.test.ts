import { describe, expect, it } from 'vitest';
import { BodyKind, NO_GROUPS, RowBatch, RowTally, decodeAndEncode, unpackGroups, type RowGroup } from '../../src/codec/index.js';
import { Endpoint } from '../../src/protocol/index.js';

const agent = 'AgentAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const ctx = { endpoint: Endpoint.Agent, agentId: agent, tenantId: null, maxEvents: 1000 };

function interaction(nonce: number, vendor: string, latency: unknown, extra: Record<string, unknown> = {}, by = agent, time = '2026-11-21T10:15:42.5Z') {
  return {
    specversion: '1.0',
    id: `e-${nonce}`,
    source: '/agents/a',
    type: 'com.machpay.agent.interaction.v1',
    time,
    data: { agent_id: by, vendor_id: vendor, nonce, success: nonce % 2 === 0, latency_ms: latency, ...extra },
  };
}

describe('row groups for the rollups', () => {
  it('groups exactly the accepted rows by minute, agent and vendor', () => {
    const out = new RowBatch();
    out.tally = new RowTally();
    const body = JSON.stringify([
      interaction(1, 'v1', 10, { amount_atomic: '9223372036854775000' }),
      interaction(2, 'v1', 20, { amount_atomic: 700 }),
      interaction(3, 'v1', -1), // invalid: not counted
      interaction(4, 'v2', 5),
    ]);
    const r = decodeAndEncode(Buffer.from(body), BodyKind.JsonBatch, null, ctx, out);
    expect(r).toMatchObject({ ok: true, accepted: 3 });
    const groups: RowGroup[] = [];
    unpackGroups(out.tally.pack(), groups);
    groups.sort((a, b) => a.vendorId.localeCompare(b.vendorId));
    expect(groups).toEqual([
      {
        kind: 'agent',
        minute: Date.UTC(2026, 10, 21, 10, 15),
        entity: agent,
        vendorId: 'v1',
        tenantId: '',
        requests: 2,
        successes: 1,
        failures: 1,
        spendAtomic: 9223372036854775700n,
        latencies: [10, 20],
      },
      expect.objectContaining({ vendorId: 'v2', requests: 1, successes: 1, failures: 0, spendAtomic: 0n, latencies: [5] }),
    ]);
    expect(out.interactions.rows).toBe(3);
  });

  it('leaves nothing behind for a body that fails to decode', () => {
    const out = new RowBatch();
    out.tally = new RowTally();
    decodeAndEncode(Buffer.from(JSON.stringify([interaction(1, 'v', 1)])), BodyKind.JsonBatch, null, ctx, out);
    const before = out.tally.size;
    const r = decodeAndEncode(Buffer.from('[{"specversion":'), BodyKind.JsonBatch, null, ctx, out);
    expect(r.ok).toBe(false);
    expect(out.tally.size).toBe(before);
    out.reset();
    expect(out.tally.size).toBe(0);
  });

  it('packs groups for the worker hand-off: exact spend past 2^53, latencies per group in row order', () => {
    const out = new RowBatch();
    out.tally = new RowTally();
    const events = [];
    const amounts = ['999999999999999', 123, '9000000000000000001', '0'];
    for (let i = 1; i <= 40; i++) events.push(interaction(i, `v${i % 3}`, i * 7, { amount_atomic: amounts[i % 4] }));
    expect(decodeAndEncode(Buffer.from(JSON.stringify(events)), BodyKind.JsonBatch, null, ctx, out)).toMatchObject({ ok: true, accepted: 40 });
    const unpacked: RowGroup[] = [];
    unpackGroups(structuredClone(out.tally.pack()), unpacked);
    expect(unpacked.map((g) => g.vendorId)).toEqual(['v1', 'v2', 'v0']);
    for (const g of unpacked) {
      const mine = events.filter((e) => e.data.vendor_id === g.vendorId);
      expect(g.requests).toBe(mine.length);
      expect(g.successes).toBe(mine.filter((e) => e.data.success).length);
      expect(g.failures).toBe(g.requests - g.successes);
      expect(g.latencies).toEqual(mine.map((e) => e.data.latency_ms));
      expect(g.spendAtomic).toBe(mine.reduce((sum, e) => sum + BigInt((e.data as { amount_atomic?: string | number }).amount_atomic ?? 0), 0n));
    }

    const none: RowGroup[] = [];
    unpackGroups(new RowTally().pack(), none);
    unpackGroups(NO_GROUPS, none);
    expect(none).toEqual([]);
  });

  it('merges the rows of one key across the requests of a task, whatever comes between them', () => {
    const other = 'AgentBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';
    const out = new RowBatch();
    out.tally = new RowTally();
    const requests: [string, ReturnType<typeof interaction>[]][] = [
      [agent, [interaction(1, 'v1', 1), interaction(2, 'v2', 2), interaction(3, 'v1', 3, {}, agent, '2026-11-21T10:16:00Z'), interaction(4, 'v1', 4)]],
      [other, [interaction(5, 'v1', 5, {}, other), interaction(6, 'v2', 6, {}, other)]],
      [agent, [interaction(7, 'v2', 7), interaction(8, 'v1', 8, {}, agent, '2026-11-21T10:16:30Z')]],
    ];
    for (const [id, events] of requests) {
      const r = decodeAndEncode(Buffer.from(JSON.stringify(events)), BodyKind.JsonBatch, null, { ...ctx, agentId: id }, out);
      expect(r).toMatchObject({ ok: true, accepted: events.length });
    }
    const groups: RowGroup[] = [];
    unpackGroups(out.tally.pack(), groups);
    const m15 = Date.UTC(2026, 10, 21, 10, 15);
    const m16 = Date.UTC(2026, 10, 21, 10, 16);
    expect(groups.map((g) => [g.entity === agent ? 'A' : 'B', g.minute, g.vendorId, g.latencies])).toEqual([
      ['A', m15, 'v1', [1, 4]],
      ['A', m15, 'v2', [2, 7]],
      ['A', m16, 'v1', [3, 8]],
      ['B', m15, 'v1', [5]],
      ['B', m15, 'v2', [6]],
    ]);
  });
});
