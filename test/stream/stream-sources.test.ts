/**
 * The stream writes each event's JSON itself from the row's text values: its times must be
 * exactly what the read API answers for the same value (src/read/times.ts apiTime over
 * utcMicros), whatever the fraction, as PostgreSQL prints them.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { apiTime, utcMicros } from '../../src/read/times.js';
import { READ_SETTINGS } from '../../src/stream/log-reader.js';
import { apiTimeFromUtcText } from '../../src/stream/stream-sources.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('stream_sources');
});
afterAll(async () => {
  await db?.drop();
});

it('prints every time as the read API does', async () => {
  const times = [
    '2026-01-02 03:04:05+00',
    '2026-01-02 03:04:05.1+00',
    '2026-01-02 03:04:05.12+00',
    '2026-01-02 03:04:05.123+00',
    '2026-01-02 03:04:05.1234+00',
    '2026-01-02 03:04:05.000001+00',
    '2026-12-31 23:59:59.999999+00',
    '2026-06-30 22:30:00.5-02',
  ];
  const c = new pg.Client(db.url);
  await c.connect();
  try {
    await c.query(`BEGIN; ${READ_SETTINGS}`);
    const { rows } = await c.query<{ text: string; micros: string }>(
      `SELECT t::text AS text, ${utcMicros('t')} AS micros FROM unnest($1::timestamptz[]) AS t`,
      [times],
    );
    await c.query('COMMIT');
    expect(rows).toHaveLength(times.length);
    for (const r of rows) expect(apiTimeFromUtcText(r.text)).toBe(apiTime(r.micros));
  } finally {
    await c.end();
  }
});
