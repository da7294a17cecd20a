/**
 * Minimal reproducers of the receiver bugs the fuzzer found (known-bugs.ts), the request
 * that triggers each spelled out byte for byte. A fixed bug's test states what
 * docs/protocol.md requires. A known limitation of the HTTP layer is pinned by a test that
 * asserts today's wrong output exactly: it fails when the output changes, fixed or not, and
 * then takes the protocol's requirement instead.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';
import { RECEIVER_ENTRY, startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { agentFromSeed, signRequest } from './agent-book.js';
import { Lane, rawExchange, type ParsedResponse } from './http-client.js';
import { IntLiteral, RawString, obj } from './hostile-value.js';
import { writeMsgpack } from './msgpack-writer.js';
import { agentSeed } from './run-env.js';

let db: TestDatabase;
let rx: RunningReceiver;
let key: string;

beforeAll(async () => {
  db = await createTestDatabase('fuzz_bugs');
  rx = await startReceiver({ DATABASE_URL: db.url, WORKERS: '2', LOG_LEVEL: 'warn' });
  const { stdout } = await promisify(execFile)(process.execPath, [RECEIVER_ENTRY, 'keys', 'create', '--tenant', 'bugs', '--name', 'bugs'], {
    env: { ...process.env, DATABASE_URL: db.url },
  });
  key = stdout.trim().split('\n').pop() as string;
}, 60_000);

afterAll(async () => {
  await rx?.stop();
  await db?.drop();
});

/** Event times are the clock's: inside the receiver's default event-time window (docs/protocol.md §2). */
const EVENT_TIME = new Date().toISOString();
const GATEWAY_DATA = { gateway_id: 'gw-1', vendor_id: 'v', route: '/r', method: 'GET', status_code: 200, latency_ms: 1 };

function request(path: string, headers: [string, string][], body: Uint8Array): Buffer {
  const head = [`POST ${path} HTTP/1.1`, `host: 127.0.0.1:${rx.port}`, ...headers.map(([n, v]) => `${n}: ${v}`), `content-length: ${body.length}`];
  // Header values as UTF-8 bytes: `é` is C3 A9 on the wire.
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'utf8'), body]);
}

async function send(bytes: Buffer): Promise<ParsedResponse | undefined> {
  const lane = new Lane(rx.port);
  try {
    return (await lane.exchange(bytes, 10_000)).responses[0];
  } finally {
    lane.close();
  }
}

describe('receiver bugs found by the fuzzer', () => {
  // Known limitation of the HTTP layer: uWebSockets.js trims bytes >= 0x80 at the end of a
  // header value before the receiver sees it, so `bug-é` arrives as `bug-`. The receiver
  // refuses the non-ASCII it can see (see the test below). The protocol requires one row per
  // acknowledged event; once the HTTP layer keeps those bytes, this test expects that.
  it('binary mode, known limitation: ce-ids ending in non-ASCII bytes are both acknowledged and stored once (uWS trims those bytes)', async () => {
    // ce-id: bug-é and ce-id: bug-ü (é = C3 A9, ü = C3 BC, the last bytes of the value).
    // Both are answered 202 {"accepted":1} and both are stored as event_id "bug-": the
    // second is acknowledged and lost as a "duplicate" of the first.
    const statuses: number[] = [];
    const bodies: string[] = [];
    for (const id of ['bug-é', 'bug-ü']) {
      const headers: [string, string][] = [
        ['content-type', 'application/json'],
        ['authorization', `Bearer ${key}`],
        ['ce-specversion', '1.0'],
        ['ce-id', id],
        ['ce-source', 'https://gw.example/bugs'],
        ['ce-type', 'com.machpay.gateway.request.v1'],
        ['ce-time', EVENT_TIME],
      ];
      const res = await send(request('/v1/ingest', headers, Buffer.from(JSON.stringify(GATEWAY_DATA))));
      statuses.push(res?.status ?? 0);
      bodies.push(res?.body.toString('utf8') ?? '');
    }
    const rows = await query<{ event_id: string }>(db.url, "SELECT event_id FROM gateway_telemetry WHERE event_source = 'https://gw.example/bugs' ORDER BY 1");
    expect({ statuses, bodies, eventIds: rows.map((r) => r.event_id) }).toEqual({
      statuses: [202, 202],
      bodies: ['{"accepted":1,"rejected":[]}', '{"accepted":1,"rejected":[]}'],
      eventIds: ['bug-'],
    });
  });

  it('MessagePack: ids that are not valid UTF-8 are refused, not replaced by U+FFFD and merged', async () => {
    // One batch, two gateway events whose ids are the MessagePack str bytes 78 FF and 78 FE.
    // Answered 202 {"accepted":2}; one row is stored, with event_id "x\uFFFD".
    const event = (id: number[]) =>
      obj([
        ['specversion', '1.0'],
        ['id', new RawString(Uint8Array.from(id))],
        ['source', 'https://gw.example/msgpack-bugs'],
        ['type', 'com.machpay.gateway.request.v1'],
        ['time', EVENT_TIME],
        ['data', obj(Object.entries(GATEWAY_DATA))],
      ]);
    const body = writeMsgpack([event([0x78, 0xff]), event([0x78, 0xfe])]);
    const res = await send(request('/v1/ingest', [['content-type', 'application/cloudevents-batch+msgpack'], ['authorization', `Bearer ${key}`]], body));
    const rows = await query(db.url, "SELECT event_id FROM gateway_telemetry WHERE event_source = 'https://gw.example/msgpack-bugs'");
    const accepted = res?.status === 202 ? (JSON.parse(res.body.toString('utf8')) as { accepted: number }).accepted : 0;
    // Each acknowledged event has its own row (the JSON form of the same bytes is refused as invalid_body).
    expect({ status: res?.status, storedPerAccepted: rows.length }).toEqual({ status: res?.status, storedPerAccepted: accepted });
  });

  it('MessagePack: an INT field sent as a 64-bit MessagePack integer is accepted', async () => {
    // latency_ms: 5 encoded as int 64 (d3 00 00 00 00 00 00 00 05), as encoders that always
    // use 64-bit integers write it. Refused: "data.latency_ms: must be an integer >= 0".
    const agent = agentFromSeed(agentSeed(1, 'bugs', 1));
    const event = obj([
      ['specversion', '1.0'],
      ['id', 'wide-int-1'],
      ['source', `/agents/${agent.agentId}`],
      ['type', 'com.machpay.agent.interaction.v1'],
      ['time', EVENT_TIME],
      ['data', obj([['agent_id', agent.agentId], ['vendor_id', 'v'], ['nonce', 1], ['success', true], ['latency_ms', new IntLiteral(5n, 'i64')]])],
    ]);
    const body = writeMsgpack([event]);
    const ts = String(Date.now());
    const res = await send(
      request(
        '/v1/agent',
        [
          ['content-type', 'application/cloudevents-batch+msgpack'],
          ['x-machpay-agent', agent.agentId],
          ['x-machpay-timestamp', ts],
          ['x-machpay-signature', signRequest(agent, ts, '/v1/agent', body).toString('base64')],
        ],
        body,
      ),
    );
    expect({ status: res?.status, body: res?.body.toString('utf8') }).toEqual({ status: 202, body: '{"accepted":1,"rejected":[]}' });
  });

  // Known limitation of the HTTP layer: uWebSockets.js closes a connection when a pipelined
  // request arrives while the previous response is still pending (its author's choice:
  // browsers and mainstream clients do not pipeline). Documented in the README. HTTP/1.1
  // requires an answer to each; once the HTTP layer gives them, this test expects [202, 202].
  it('known limitation: two pipelined POSTs (HTTP/1.1) get no response, the connection is closed', async () => {
    // Two signed POST /v1/agent in one write. uWS closes the connection when the second
    // request arrives while the first is still waiting for its (asynchronous) 202: neither
    // is answered. A GET /healthz pipelined after a 401 is answered: only async answers are hit.
    const agent = agentFromSeed(agentSeed(1, 'bugs', 0));
    const part = (nonce: number): Buffer => {
      const body = Buffer.from(
        JSON.stringify([
          {
            specversion: '1.0',
            id: `pipelined-${nonce}`,
            source: `/agents/${agent.agentId}`,
            type: 'com.machpay.agent.interaction.v1',
            time: EVENT_TIME,
            data: { agent_id: agent.agentId, vendor_id: 'v', nonce, success: true, latency_ms: 1 },
          },
        ]),
      );
      const ts = String(Date.now());
      return request(
        '/v1/agent',
        [
          ['content-type', 'application/cloudevents-batch+json'],
          ['x-machpay-agent', agent.agentId],
          ['x-machpay-timestamp', ts],
          ['x-machpay-signature', signRequest(agent, ts, '/v1/agent', body).toString('base64')],
        ],
        body,
      );
    };
    const ex = await rawExchange(rx.port, [Buffer.concat([part(1), part(2)])], { responses: 2, timeoutMs: 10_000 });
    expect({ responses: ex.responses.map((r) => r.status), closed: ex.closed }).toEqual({ responses: [], closed: true });
  });
});
