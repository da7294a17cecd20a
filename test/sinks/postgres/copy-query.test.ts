import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { copyQuery, type CopyStep } from '../../../src/sinks/postgres/copy-query.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';

/**
 * copyQuery sends a query's COPY data right behind the query, without waiting for each
 * CopyInResponse. These check on a real PostgreSQL that a failing statement leaves nothing of
 * what follows it done (the rest of the query, the COMMIT in it, the data already sent for
 * later COPYs) and that the connection is in step for its next query afterwards.
 */

let d: TestDatabase;
let client: pg.Client;
beforeAll(async () => {
  d = await createTestDatabase('sink_copy_query');
  client = new pg.Client(d.url);
  await client.connect();
  await client.query('CREATE TABLE a (id int PRIMARY KEY, v text NOT NULL); CREATE TABLE b (id int PRIMARY KEY, v text NOT NULL)');
});
afterAll(async () => {
  await client?.end();
  await d?.drop();
});

const text = (from: number, count: number, v = 'x'): Uint8Array => {
  let s = '';
  for (let i = from; i < from + count; i++) s += `${i}\t${v}\n`;
  return Buffer.from(s);
};
const step = (table: string, ...chunks: Uint8Array[]): CopyStep => ({ sql: `COPY ${table} (id, v) FROM STDIN`, chunks, format: 'text' });
const counts = async (): Promise<[number, number]> => {
  const r = await client.query<{ a: number; b: number }>('SELECT (SELECT count(*) FROM a)::int AS a, (SELECT count(*) FROM b)::int AS b');
  return [r.rows[0]?.a ?? -1, r.rows[0]?.b ?? -1];
};
/** What the sink does with a failed transaction. */
const rollBack = (): Promise<unknown> => client.query('ROLLBACK');

it('runs BEGIN, two COPYs and COMMIT as one query and commits both', async () => {
  await copyQuery(client, [step('a', text(0, 3), text(3, 2)), step('b', text(0, 4))], 'BEGIN;\n', 'COMMIT;');
  expect(await counts()).toEqual([5, 4]);
  const tx = await client.query<{ s: string }>("SELECT to_char(now(), 'YYYY') AS s");
  expect(tx.rows).toHaveLength(1);
});

it('a duplicate in the first COPY rejects with its SQLSTATE; the second COPY (4 MiB sent already) and the COMMIT are not done', async () => {
  const big = text(1_000_000, 300_000, 'y'.repeat(10));
  expect(big.byteLength).toBeGreaterThan(4 << 20);
  const err = await copyQuery(client, [step('a', text(100, 1), text(0, 1)), step('b', big)], 'BEGIN;\n', 'COMMIT;').catch((e: unknown) => e);
  expect((err as { code?: string }).code).toBe('23505');
  const state = await client.query<{ ok: boolean }>('SELECT true AS ok').catch((e: unknown) => e);
  // The transaction is open and aborted: the COMMIT after the COPYs did not run.
  expect((state as { code?: string }).code).toBe('25P02');
  await rollBack();
  expect(await counts()).toEqual([5, 4]);
  // The connection is in step: the next query on it works.
  await copyQuery(client, [step('a', text(10, 2))], 'BEGIN;\n', 'COMMIT;');
  expect(await counts()).toEqual([7, 4]);
});

it('a value the second COPY refuses rolls back the first, and an error in the SQL after the COPYs is reported', async () => {
  const bad = Buffer.from('20\tfine\nnot-a-number\tz\n');
  const err = await copyQuery(client, [step('a', text(20, 3)), step('b', bad)], 'BEGIN;\n', 'COMMIT;').catch((e: unknown) => e);
  expect((err as { code?: string }).code).toBe('22P02');
  await rollBack();
  expect(await counts()).toEqual([7, 4]);

  const after = await copyQuery(client, [step('a', text(30, 2))], 'BEGIN;\n', 'INSERT INTO b (id, v) VALUES (0, NULL);\nCOMMIT;').catch((e: unknown) => e);
  expect((after as { code?: string }).code).toBe('23502');
  await rollBack();
  expect(await counts()).toEqual([7, 4]);
});

it('a lone COPY without BEGIN is its own transaction', async () => {
  await copyQuery(client, [step('b', text(100, 3))]);
  expect(await counts()).toEqual([7, 7]);
  const err = await copyQuery(client, [step('b', text(200, 2), text(100, 1))]).catch((e: unknown) => e);
  expect((err as { code?: string }).code).toBe('23505');
  expect(await counts()).toEqual([7, 7]);
});
