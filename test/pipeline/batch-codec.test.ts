import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BodyKind, COPY_FORMATS, decodeAndEncode, RowBatch } from '../../src/codec/index.js';
import { decodeBatch, encodeBatch } from '../../src/pipeline/index.js';
import { createPool, migrate, withClient } from '../../src/database/index.js';
import { emptyBatch, PostgresCopySink } from '../../src/sinks/postgres/index.js';
import { encodeJsonBatch, interactionEvent, newAgent } from '../helpers/agent.js';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';
import { rowsOf } from '../codec/support.js';
import { Endpoint } from '../../src/protocol/index.js';

/** Spool records: what is written is what is replayed, including records of the version before binary COPY. */

let db: TestDatabase;
let pool: ReturnType<typeof createPool>;

beforeAll(async () => {
  db = await createTestDatabase('batch_codec');
  await withClient(db.url, (c) => migrate(c));
  pool = createPool(db.url, 1, pino({ level: 'silent' }));
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

/** A version 1 record as the receiver wrote it before agent_interactions went binary: COPY text. */
function versionOneRecord(text: string, agents: string[]): Uint8Array {
  const rows = text.split('\n').length - 1;
  const header = Buffer.from(
    JSON.stringify({ v: 1, rows: { agent_interactions: rows, agent_telemetry: 0, gateway_telemetry: 0 }, bytes: { agent_interactions: Buffer.byteLength(text), agent_telemetry: 0, gateway_telemetry: 0 }, agents }),
  );
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  return Buffer.concat([length, header, Buffer.from(text)]);
}

describe('spool batch records', () => {
  it('round-trip rows, counts, formats and agents', () => {
    const agent = newAgent();
    const rows = new RowBatch();
    const r = decodeAndEncode(encodeJsonBatch([interactionEvent(agent.agentId)]), BodyKind.JsonBatch, null, { endpoint: Endpoint.Agent, agentId: agent.agentId, tenantId: null, maxEvents: 10 }, rows);
    expect(r.ok).toBe(true);
    const batch = emptyBatch();
    batch.chunks.agent_interactions.push(Uint8Array.from(rows.interactions.bytes()));
    batch.rows.agent_interactions = 1;
    batch.newAgents = [agent.agentId];
    const back = decodeBatch(encodeBatch(batch));
    expect(back.formats).toEqual(COPY_FORMATS);
    expect(back.rows).toEqual(batch.rows);
    expect(back.newAgents).toEqual([agent.agentId]);
    expect(Buffer.concat(back.chunks.agent_interactions).equals(Buffer.from(rows.interactions.bytes()))).toBe(true);
    expect(rowsOf(rows, 'agent_interactions')[0]?.agent_id).toBe(agent.agentId);
  });

  it('a version 1 record (COPY text) is replayed as text', async () => {
    const agent = newAgent().agentId;
    const text = `2026-01-31 12:00:00.5+00\t${agent}\tvendor-a\t\\N\t\\N\t1500\t\\N\t7\tt\t12\t\\N\t\\N\t\\N\n`;
    const batch = decodeBatch(versionOneRecord(text, [agent]));
    expect(batch.formats.agent_interactions).toBe('text');
    const outcome = await new PostgresCopySink(pool, false).write(batch);
    expect(outcome.ok, JSON.stringify(outcome)).toBe(true);
    const stored = await query<{ time: string; nonce: string; amount: string }>(
      db.url,
      "SELECT to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS time, nonce::text, amount_atomic::text AS amount FROM agent_interactions WHERE agent_id = $1",
      [agent],
    );
    expect(stored).toEqual([{ time: '2026-01-31 12:00:00.500000', nonce: '7', amount: '1500' }]);
  });
});
