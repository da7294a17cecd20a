/**
 * Proof that PostgreSQL accepts what the codec writes: COPY text rows of hostile and
 * generated events go into TEMP staging tables (as the sink does) and on into the real
 * tables of schema/postgres/001_initial.sql, then come back out equal.
 *
 * Runs against the PostgreSQL the test setup starts, in a database of its own.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import fc from 'fast-check';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { BodyKind, COPY_BINARY_HEADER, COPY_BINARY_TRAILER, COPY_COLUMNS, COPY_FORMATS, RowBatch, decodeAndEncode, type RowWriter } from '../../src/codec/index.js';
import { quoteLongIntegers } from '../../src/codec/json-body.js';
import { gatewaySample, interactionSample, telemetrySample, toWire } from './arbitraries.js';
import { agentCtx, gatewayRequest, ingestCtx, interaction, packr, parseCopyText, parseRows, RawJsonNumber, telemetry, toJson, type Table } from './support.js';


const HOSTILE = [
  'back\\slash',
  'tab\there',
  'new\nline',
  'cr\rlf\r\n',
  '\\N',
  '\\.',
  '\\',
  '"quoted" \'single\'',
  'ctrl \u0001\u0008\u000b\u000c\u001f\u007f',
  'unicode é ß 中文 \u2028\u2029 \ufeff',
  '__proto__',
];

function hostileEvents(): { agent: unknown[]; ingest: unknown[] } {
  const agent: unknown[] = [];
  const ingest: unknown[] = [];
  HOSTILE.forEach((s, i) => {
    agent.push(interaction({ nonce: 1000 + i, vendor_id: s, error_message: s, request_url: s, signature: s }, { id: `h-${i}` }));
    ingest.push(gatewayRequest({ route: s, gateway_id: s, error_code: s }, { id: `h-${i}` }));
  });
  // emoji (astral) and combining text exactly at each column's limit
  agent.push(
    interaction({
      nonce: new RawJsonNumber('9223372036854775807'),
      amount_atomic: new RawJsonNumber('9223372036854775807'),
      vendor_id: '😀'.repeat(64),
      request_url: '😀'.repeat(512),
      request_method: '😀'.repeat(16),
      token_mint: '𝄞'.repeat(64),
      error_type: '😀'.repeat(64),
      error_message: '😀'.repeat(4096),
      signature: '😀'.repeat(128),
    }),
    interaction({ nonce: '-9223372036854775808', latency_ms: 2147483647 }, { time: '0001-01-01T00:00:00Z' }),
    interaction({ nonce: 0 }, { time: '9999-12-31T23:59:59.9999999Z' }),
    interaction({ nonce: 1 }, { time: '2016-12-31T23:59:60Z' }),
    interaction({ nonce: 2 }, { time: '2026-01-01T00:00:00+23:59' }),
    telemetry(
      {
        period_start: 253402300799 - 2147483647,
        period_end: 253402300799,
        sdk_version: '😀'.repeat(32),
        wallet: { sol_balance_lamports: '9223372036854775807', usdc_balance_atomic: new RawJsonNumber('9223372036854775807'), low_balance_warnings: 2147483647 },
        interactions: {},
      },
      { id: 'tel-limits' },
    ),
  );
  ingest.push(
    gatewayRequest(
      { risk_score: 5e-324, amount_atomic: '9223372036854775807', status_code: 599, method: '😀'.repeat(16), route: '😀'.repeat(512), agent_id: '😀'.repeat(64) },
      { id: '😀'.repeat(128), source: 's'.repeat(256) },
    ),
    gatewayRequest({ risk_score: 1e-7, payment_verified: false }, { id: 'tiny-risk' }),
  );
  return { agent, ingest };
}

/** A telemetry body with `__proto__` / `constructor` vendors and escapes in keys, as raw JSON text. */
function protoTelemetryJson(): string {
  const base = toJson(telemetry({ interactions: {} }, { id: 'tel-proto' })).replace('"period_start":1769860800', '"period_start":1769860000');
  const doc =
    '{"__proto__":{"attempts":1,"spend_atomic":9223372036854775806,"errors":{"__proto__":3,"tab\\there":1}},' +
    '"constructor":{"attempts":2,"spend_atomic":1},"back\\\\slash \\"q\\" \\n😀":{"success":4}}';
  return `[${base.replace('"interactions":{}', `"interactions":${doc}`)}]`;
}

/** Canonical JSON: keys sorted, long integers kept as digit strings (via the codec's own quoting). */
function canonicalJson(text: string): string {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (v !== null && typeof v === 'object') {
      const out: [string, unknown][] = Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]);
      return out;
    }
    return typeof v === 'number' ? String(v) : v;
  };
  return JSON.stringify(sortKeys(JSON.parse(quoteLongIntegers(text))));
}

/** Normalises one column value for comparison with PostgreSQL's text output. */
function normalise(table: Table, column: string, v: string | null): string | number | null {
  if (v === null) return null;
  if (column === 'time') return v.replace(/(\.\d*?)0+\+00$/, '$1+00').replace(/\.\+00$/, '+00');
  if (column === 'risk_score') return Number(v);
  if (table === 'agent_telemetry' && column === 'interactions') return canonicalJson(v);
  return v;
}

function sortedRows(table: Table, rows: (string | null)[][]): string[] {
  const cols = COPY_COLUMNS[table];
  return rows
    .map((fields) => JSON.stringify(fields.map((f, i) => normalise(table, cols[i] as string, f))))
    .sort();
}

/** The writer's rows in its table's format (binary rows framed by the format's header and trailer). */
async function copyIn(client: pg.Client, table: Table, into: string, bytes: Uint8Array): Promise<void> {
  const binary = COPY_FORMATS[table] === 'binary';
  const stream = client.query(copyFrom(`COPY ${into} (${COPY_COLUMNS[table].join(', ')}) FROM STDIN${binary ? ' (FORMAT binary)' : ''}`));
  const data = binary ? Buffer.concat([COPY_BINARY_HEADER, bytes, COPY_BINARY_TRAILER]) : Buffer.from(bytes);
  await pipeline(Readable.from([data]), stream);
}

async function copyOut(client: pg.Client, sql: string): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  await pipeline(
    client.query(copyTo(`COPY (${sql}) TO STDOUT`)),
    new Writable({
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk);
        done();
      },
    }),
  );
  return Buffer.concat(chunks);
}

describe('PostgreSQL accepts the COPY rows (text and binary)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('codec_copy');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('hostile, limit-sized and generated events COPY into staging, insert into the real tables, and read back equal', async () => {
    const batch = new RowBatch(1024);
    const accept = (body: Uint8Array | string, kind: BodyKind, ctx: typeof agentCtx): number => {
      const r = decodeAndEncode(typeof body === 'string' ? Buffer.from(body) : body, kind, null, ctx, batch);
      if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
      if (kind !== BodyKind.JsonBatch || !String(body).includes('"h-0"')) return r.accepted;
      expect(r.rejected).toEqual([]); // the hand-written events must all be valid
      return r.accepted;
    };

    const hostile = hostileEvents();
    expect(accept(toJson(hostile.agent), BodyKind.JsonBatch, agentCtx)).toBe(hostile.agent.length);
    expect(accept(toJson(hostile.ingest), BodyKind.JsonBatch, ingestCtx)).toBe(hostile.ingest.length);
    expect(accept(protoTelemetryJson(), BodyKind.JsonBatch, agentCtx)).toBe(1);

    // Generated valid events, both wire forms.
    const agentSamples = fc.sample(fc.oneof(interactionSample, telemetrySample), { numRuns: 400, seed: 42 });
    const gatewaySamples = fc.sample(gatewaySample, { numRuns: 300, seed: 43 });
    expect(accept(toJson(agentSamples.slice(0, 200).map((s) => toWire(s.event, 'json'))), BodyKind.JsonBatch, agentCtx)).toBe(200);
    expect(accept(packr.pack(agentSamples.slice(200).map((s) => toWire(s.event, 'msgpack'))), BodyKind.MsgpackBatch, agentCtx)).toBe(200);
    expect(accept(packr.pack(gatewaySamples.map((s) => toWire(s.event, 'msgpack'))), BodyKind.MsgpackBatch, ingestCtx)).toBe(300);

    // Generated events with one field replaced by junk: whatever the codec accepts, PostgreSQL must take.
    const junk = fc.oneof(
      fc.anything({ maxDepth: 2 }),
      fc.string({ unit: 'binary', maxLength: 600 }),
      fc.constantFrom('\ud800', '\u0000', -1, 2 ** 31, 1e300, '9223372036854775808', '', '2026-02-30T00:00:00Z', '0000-01-01T00:00:00Z'),
    );
    let mutatedAccepted = 0;
    for (const [s, pick, value] of fc.sample(fc.tuple(fc.oneof(interactionSample, telemetrySample, gatewaySample), fc.nat(), junk), {
      numRuns: 600,
      seed: 44,
    })) {
      const evt = toWire(s.event, 'json') as Record<string, unknown>;
      const data = evt.data as Record<string, unknown>;
      const keys = [...Object.keys(evt).map((k) => [evt, k] as const), ...Object.keys(data).map((k) => [data, k] as const)];
      const [target, key] = keys[pick % keys.length] as readonly [Record<string, unknown>, string];
      target[key] = value;
      let body: string;
      try {
        body = toJson([evt]);
      } catch {
        continue;
      }
      mutatedAccepted += accept(body, BodyKind.JsonBatch, s.table === 'gateway_telemetry' ? ingestCtx : agentCtx);
    }
    expect(mutatedAccepted).toBeGreaterThan(50);

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const schema = `codec_${randomBytes(5).toString('hex')}`;
    try {
      const enc = await client.query<{ server_encoding: string }>('SHOW server_encoding');
      expect(enc.rows[0]?.server_encoding, 'VARCHAR(n) counts characters only in a UTF8 database').toBe('UTF8');
      await client.query(`CREATE SCHEMA ${schema}`);
      await client.query(`SET search_path TO ${schema}`);
      await client.query("SET TimeZone TO 'UTC'");
      await client.query("SET DateStyle TO 'ISO, MDY'");
      await client.query(await readFile(new URL('../../schema/postgres/001_initial.sql', import.meta.url), 'utf8'));

      const writers: [Table, RowWriter][] = [
        ['agent_interactions', batch.interactions],
        ['agent_telemetry', batch.telemetry],
        ['gateway_telemetry', batch.gateway],
      ];
      for (const [table, writer] of writers) {
        const staging = `staging_${table}`;
        await client.query(`CREATE TEMP TABLE ${staging} (LIKE ${table} INCLUDING DEFAULTS)`);
        await copyIn(client, table, staging, writer.bytes());
        const staged = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${staging}`);
        expect(staged.rows[0]?.n, table).toBe(String(writer.rows));
        await client.query(`INSERT INTO ${table} SELECT * FROM ${staging} ON CONFLICT DO NOTHING`);

        // Everything staged reads back as written (modulo PostgreSQL's output formatting).
        const out = await copyOut(client, `SELECT ${COPY_COLUMNS[table].join(', ')} FROM ${staging}`);
        expect(sortedRows(table, parseCopyText(out, false)), table).toEqual(sortedRows(table, parseRows(table, writer.bytes())));
      }

      const one = async (sql: string): Promise<Record<string, unknown>> => (await client.query(sql)).rows[0] as Record<string, unknown>;
      expect(await one("SELECT nonce::text, amount_atomic::text, char_length(vendor_id) AS v, char_length(error_message) AS m FROM agent_interactions WHERE vendor_id = repeat('😀', 64)")).toEqual({
        nonce: '9223372036854775807',
        amount_atomic: '9223372036854775807',
        v: 64,
        m: 4096,
      });
      expect(await one("SELECT nonce::text, to_char(time, 'YYYY-MM-DD HH24:MI:SS') AS t FROM agent_interactions WHERE nonce = -9223372036854775808")).toEqual({
        nonce: '-9223372036854775808',
        t: '0001-01-01 00:00:00',
      });
      for (const [i, s] of HOSTILE.entries()) {
        expect(await one(`SELECT vendor_id, error_message FROM agent_interactions WHERE nonce = ${1000 + i}`)).toEqual({ vendor_id: s, error_message: s });
        expect((await client.query('SELECT route FROM gateway_telemetry WHERE event_id = $1', [`h-${i}`])).rows[0]).toEqual({ route: s });
      }
      expect(
        await one(
          "SELECT total_requests, total_payments, total_spend_atomic::text AS spend, interactions->'__proto__'->>'spend_atomic' AS proto_spend, interactions->'__proto__'->'errors'->>'__proto__' AS proto_err, jsonb_object_keys(interactions->'__proto__'->'errors') IS NOT NULL AS k FROM agent_telemetry WHERE time = to_timestamp(1769860860) AND total_requests = 3",
        ),
      ).toEqual({ total_requests: 3, total_payments: 4, spend: '9223372036854775807', proto_spend: '9223372036854775806', proto_err: '3', k: true });
      expect(await one("SELECT risk_score, char_length(event_id) AS n FROM gateway_telemetry WHERE event_source = repeat('s', 256)")).toEqual({ risk_score: 5e-324, n: 128 });
      // The real tables hold each natural key once.
      expect(
        await one(
          'SELECT (SELECT count(*) FROM agent_interactions)::int AS i, (SELECT count(*) FROM agent_telemetry)::int AS t, (SELECT count(*) FROM gateway_telemetry)::int AS g',
        ),
      ).toEqual(
        await one(
          'SELECT (SELECT count(DISTINCT (time, agent_id, nonce)) FROM staging_agent_interactions)::int AS i, (SELECT count(DISTINCT (time, agent_id)) FROM staging_agent_telemetry)::int AS t, (SELECT count(DISTINCT (event_source, event_id)) FROM staging_gateway_telemetry)::int AS g',
        ),
      );
      expect(batch.rows).toBe(hostile.agent.length + hostile.ingest.length + 1 + 700 + mutatedAccepted);
    } finally {
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
      await client.end();
    }
  }, 120_000);
});
