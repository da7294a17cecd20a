/**
 * The stream writes each event's JSON itself from the row's text values. Its data must be
 * exactly what the read API answers for the same row (docs/read-api.md §4: an `interaction` is
 * the agent id and the §3 history row), whatever the values: times with and without
 * fractions, nulls, the largest integers, and text that JSON must escape.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { agentHistory, apiTime, utcMicros } from '../../src/read/index.js';
import { READ_SETTINGS, readLive } from '../../src/stream/log-reader.js';
import { apiTimeFromUtcText, INTERACTIONS, TELEMETRY } from '../../src/stream/stream-sources.js';
import { createMigratedDatabase, type MigratedDatabase } from '../helpers/postgres.js';

let d: MigratedDatabase;
const agent = 'StreamSourcesAgent1111111111111111111111111';

beforeAll(async () => {
  d = await createMigratedDatabase('stream_sources');
});
afterAll(async () => {
  await d?.close();
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
  const c = await d.pool.connect();
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
    c.release();
  }
});

it('writes the data of an interaction as the history row and of a telemetry report as its balances', async () => {
  const awkward = 'quote " backslash \\ newline \n tab \t bell \u0007 nul-free unicode é 💸 </script>';
  const c = await d.pool.connect();
  try {
    // A session time zone other than UTC: the read must print UTC all the same.
    await c.query("SET TimeZone = 'America/Sao_Paulo'");
    const { rows } = await c.query<{ xid: string }>('SELECT txid_current()::text AS xid');
    const from = BigInt((rows[0] as { xid: string }).xid) + 1n;
    await c.query(
      `INSERT INTO agent_interactions (time, agent_id, vendor_id, request_url, request_method, amount_atomic, token_mint, nonce, success, latency_ms, error_type, error_message, signature, stream_xid)
       VALUES ('2026-12-01 10:00:00+00', $1, 'vendor-"a"', $2, 'POST', 9223372036854775807, 'Mint111', 9223372036854775807, true, 0, NULL, NULL, 'sig', txid_current()),
              ('2026-12-01 10:00:00.123456+00', $1, 'vendor-b', NULL, NULL, NULL, NULL, -5, false, 2147483647, $3, $2, NULL, txid_current()),
              ('2026-12-01 10:00:00.5+00', $1, 'vendor-b', 'https://x.example/?q=1&r="2"', 'GET', 0, 'Mint222', 7, false, 12, 'timeout', '', NULL, txid_current())`,
      [agent, awkward, 'type\u2028sep'],
    );
    await c.query(
      `INSERT INTO agent_telemetry (time, agent_id, sol_balance_lamports, usdc_balance_atomic, low_balance_warnings, stream_xid)
       VALUES ('2026-12-01 10:00:01.000001+00', $1, 9223372036854775807, NULL, 3, txid_current())`,
      [agent],
    );
    // Rows are read once every older transaction of the server has ended (other tests' too).
    let read = await readLive(c, [INTERACTIONS, TELEMETRY], from, 1_000_000, { agents: [agent], tenants: [] });
    for (let i = 0; read.rows.length < 4 && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 50));
      read = await readLive(c, [INTERACTIONS, TELEMETRY], from, 1_000_000, { agents: [agent], tenants: [] });
    }
    const events = read.rows.map((r) => ({ source: r.source.event, data: JSON.parse(r.data) as Record<string, unknown> }));
    expect(events.map((e) => e.source)).toEqual(['interaction', 'interaction', 'interaction', 'telemetry']);

    const history = await agentHistory(d.pool, { agentId: agent, tenantId: null }, { window: null, vendorId: undefined, success: undefined, cursor: undefined, limit: 100 });
    if (history === null || !('data' in history)) throw new Error('no history');
    expect(history.data).toHaveLength(3);
    for (const e of events.slice(0, 3)) {
      const row = history.data.find((h) => h.nonce === e.data.nonce);
      expect(e.data).toStrictEqual({ agent_id: agent, ...row });
    }
    expect(events[3]?.data).toStrictEqual({
      agent_id: agent,
      time: '2026-12-01T10:00:01.000001Z',
      usdc_balance_atomic: null,
      sol_balance_lamports: '9223372036854775807',
      low_balance_warnings: 3,
    });
  } finally {
    c.release();
  }
});
