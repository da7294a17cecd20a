import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { COPY_FORMATS, CopyBinaryWriter } from '../../src/codec/index.js';
import { createPool } from '../../src/database/index.js';
import { emptyBatch, PostgresCopySink, type CopyBatch } from '../../src/sinks/postgres/index.js';
import { apiKeyWithScopes, bearer, eventsUrl, linkedAgent, listen, startStreamServer, streamDatabase, type StreamDatabase, type StreamServer } from './support.js';

/**
 * The receiver's own COPY sink fills the stream's column on both its paths: the direct COPY
 * and, after a duplicate, the staged INSERT … ON CONFLICT DO NOTHING, which streams only the
 * rows it actually inserted.
 */
let d: StreamDatabase;
let s: StreamServer;
let sinkPool: ReturnType<typeof createPool>;
beforeAll(async () => {
  d = await streamDatabase('stream_sink');
  s = await startStreamServer(d);
  sinkPool = createPool(d.db.url, 2, pino({ level: 'silent' }));
});
afterAll(async () => {
  await sinkPool?.end();
  await s?.close();
  await d?.close();
});

function textBatch(agent: string, nonces: number[]): CopyBatch {
  const rows = nonces.map((n) => `2026-02-01 12:00:00.${String(n % 1000).padStart(3, '0')}+00\t${agent}\tvendor-s\t\\N\t\\N\t1500\t\\N\t${n}\tt\t9\t\\N\t\\N\t\\N\n`).join('');
  const b = emptyBatch();
  b.chunks.agent_interactions = [Buffer.from(rows)];
  b.rows.agent_interactions = nonces.length;
  b.formats = { ...COPY_FORMATS, agent_interactions: 'text' };
  b.groups = [];
  // The rows' natural keys, as the workers send them beside the rows (the direct path needs them).
  const keys = new CopyBinaryWriter();
  for (const n of nonces) {
    keys.timestampField(Date.UTC(2026, 1, 1, 12) / 1000, (n % 1000) * 1000);
    keys.textField(agent);
    keys.int64Field(n);
    keys.endRow();
  }
  b.interactionKeys = [new Uint8Array(keys.bytes())];
  return b;
}

it('streams what the sink stores, once, on its direct and its staged path', async () => {
  const key = await apiKeyWithScopes(d.pool, 'tenant-s', ['read']);
  const agent = await linkedAgent(d.pool, 'tenant-s');
  const client = listen(eventsUrl(s.baseUrl, `agent:${agent}`), bearer(key));
  await client.opened;
  const sink = new PostgresCopySink(sinkPool);
  const first = await sink.write(textBatch(agent, [1, 2, 3]));
  expect(first).toMatchObject({ ok: true, deduplicated: false });
  // A producer's retry with one new event: the direct COPY meets the duplicates, the staged path stores the new one.
  const retry = await sink.write(textBatch(agent, [2, 3, 4]));
  expect(retry).toMatchObject({ ok: true, deduplicated: true });
  await client.until((e) => e.length >= 4);
  await new Promise((r) => setTimeout(r, 300));
  expect(client.events.map((e) => e.data.nonce)).toEqual(['1', '2', '3', '4']);
  client.close();
});
