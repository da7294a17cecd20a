import { afterAll, beforeAll, expect, it } from 'vitest';
import { BodyKind } from '../../../src/codec/index.js';
import { Endpoint, signingPrefix } from '../../../src/protocol/index.js';
import { generateKeypair, signAgentRequest as sdkSign, type AgentKeypair, type BinaryModeHeaders } from '../../../src/sdk/index.js';
import { emptyBatch, PostgresCopySink } from '../../../src/sinks/postgres/index.js';
import { interactionEvent, newAgent, rfc3339, type CloudEvent } from '../../helpers/agent.js';
import { createMigratedDatabase, type MigratedDatabase } from '../../helpers/postgres.js';
import { pipeline, task, type TestRequest } from './support.js';

/**
 * docs/protocol.md §5 (v1.1): an interaction's natural key (agent_id, nonce) holds whatever
 * its time. A resend with another time is accepted and neither stored nor counted again, on
 * the direct COPY, in a batch that holds both, and on a spool replay; a binary-mode request
 * replayed with a changed ce-time fails its signature, and the agent's own resend with a new
 * ce-time is stored once.
 */

let d: MigratedDatabase;
beforeAll(async () => {
  d = await createMigratedDatabase('sink_natural_keys');
});
afterAll(async () => {
  await d?.close();
});

const minutesAgo = (m: number): string => rfc3339(new Date(Date.now() - m * 60_000));

async function storedOf(agentId: string): Promise<{ rows: { nonce: string; time: Date }[]; keys: number; counted: number }> {
  const rows = await d.pool.query<{ nonce: string; time: Date }>('SELECT nonce::text, time FROM agent_interactions WHERE agent_id = $1 ORDER BY nonce', [agentId]);
  const keys = await d.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM agent_interaction_keys WHERE agent_id = $1', [agentId]);
  const counted = await d.pool.query<{ n: number }>("SELECT COALESCE(sum(total_requests), 0)::int AS n FROM rollup_pending WHERE kind = 'agent' AND entity_id = $1", [agentId]);
  return { rows: rows.rows, keys: keys.rows[0]?.n ?? -1, counted: counted.rows[0]?.n ?? -1 };
}

it('stores and counts once an event resent with another time: on the direct path, within one batch, and on a spool replay', async () => {
  const p = pipeline(d.db.url);
  try {
    const agent = newAgent();
    const event = interactionEvent(agent.agentId, { time: minutesAgo(30) });
    const nonce = (event.data as { nonce: number }).nonce;
    const resend = (time: string): CloudEvent => ({ ...event, time });
    const other = interactionEvent(agent.agentId, { time: minutesAgo(2) });
    const req = (events: CloudEvent[]): TestRequest => ({ agent, events });

    // Committed first, alone; then two batches' worth of resends, each with a time of its own
    // (the second and third tasks travel together: one COPY holds the same key twice).
    const units = [task([req([event])]), task([req([resend(minutesAgo(20)), other])]), task([req([resend(minutesAgo(10))])])];
    for (const u of units) p.scheduler.add(u);
    await p.answered(3);
    for (const u of units) {
      const a = p.answers.get(u.all[0]?.id as number);
      expect(a?.status).toBe(202);
      expect(JSON.parse(a?.body ?? '')).toMatchObject({ rejected: [] });
    }
    const after = await storedOf(agent.agentId);
    expect(after.rows.map((r) => r.nonce)).toEqual([String(nonce), String((other.data as { nonce: number }).nonce)].sort());
    expect(after.rows.find((r) => r.nonce === String(nonce))?.time.toISOString()).toBe(new Date(event.time as string).toISOString());
    expect(after).toMatchObject({ keys: 2, counted: 2 });

    // A spooled batch carries neither key rows nor groups: it goes through staging, which
    // takes the keys from the staged rows.
    const replay = task([req([resend(minutesAgo(5))])]);
    const batch = emptyBatch();
    batch.chunks.agent_interactions.push(replay.out.interactions);
    batch.rows.agent_interactions = replay.out.interactionRows;
    batch.groups = null;
    const outcome = await new PostgresCopySink(p.pool).write(batch);
    expect(outcome).toMatchObject({ ok: true, refused: [] });
    expect(await storedOf(agent.agentId)).toEqual(after);
  } finally {
    await p.pool.end();
  }
});

const ATTRIBUTES = ['ce-specversion', 'ce-id', 'ce-source', 'ce-type', 'ce-time'] as const;

/** A binary-mode agent request as the HTTP route lays it out, with the ce-* values as received. */
function binaryRequest(keypair: AgentKeypair, headers: Record<string, string>, ce: BinaryModeHeaders, body: Uint8Array): TestRequest {
  return {
    record: {
      endpoint: Endpoint.Agent,
      kind: BodyKind.Binary,
      gzip: false,
      signingPrefix: signingPrefix(headers['X-MachPay-Timestamp'] as string, '/v1/agent'),
      publicKey: keypair.publicKey,
      signature: Buffer.from(headers['X-MachPay-Signature'] as string, 'base64'),
      agentId: keypair.agentId,
      tenantId: '',
      attributes: ATTRIBUTES.map((h) => ce[h] ?? ''),
    },
    body,
  };
}

it('refuses a binary-mode request replayed with a changed ce-time, and stores once the agent’s own resend with a new ce-time', async () => {
  const p = pipeline(d.db.url);
  try {
    const keypair = generateKeypair();
    const body = new TextEncoder().encode(JSON.stringify({ agent_id: keypair.agentId, vendor_id: 'v-binary', nonce: 424242, success: true, latency_ms: 12 }));
    const ce = (time: string): BinaryModeHeaders => ({
      'ce-specversion': '1.0',
      'ce-id': 'evt-binary-1',
      'ce-source': `/agents/${keypair.agentId}`,
      'ce-type': 'com.machpay.agent.interaction.v1',
      'ce-time': time,
    });
    const first = ce(minutesAgo(15));
    const headers = await sdkSign(keypair, '/v1/agent', body, Date.now(), keypair.agentId, first);
    const original = task([binaryRequest(keypair, headers, first, body)]);
    p.scheduler.add(original);
    await p.answered(1);
    expect(p.answers.get(original.all[0]?.id as number)?.status).toBe(202);

    // A captured request with another ce-time: its signature no longer verifies.
    const replayed = task([binaryRequest(keypair, headers, ce(minutesAgo(1)), body)]);
    expect(replayed.out.statuses).toEqual([401]);
    expect(replayed.out.codes).toEqual(['bad_signature']);

    // The agent resends the event with a new ce-time, signed: accepted, a duplicate of the first.
    const later = ce(minutesAgo(1));
    const resent = task([binaryRequest(keypair, await sdkSign(keypair, '/v1/agent', body, Date.now(), keypair.agentId, later), later, body)]);
    p.scheduler.add(resent);
    await p.answered(2);
    expect(p.answers.get(resent.all[0]?.id as number)?.status).toBe(202);

    const stored = await storedOf(keypair.agentId);
    expect(stored.rows.map((r) => [r.nonce, r.time.toISOString()])).toEqual([['424242', new Date(first['ce-time'] as string).toISOString()]]);
    expect(stored).toMatchObject({ keys: 1, counted: 1 });
  } finally {
    await p.pool.end();
  }
});
