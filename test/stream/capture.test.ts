/**
 * Row capture (schema 011): while no receiver has a subscriber, ingest's rows carry no
 * transaction id and commits send no NOTIFY; the first subscriber switches capture on for
 * every receiver without missing a row of a transaction that straddles the switch; capture
 * goes off again once nobody has listened for the resume window, and an id from before that
 * cannot be resumed from.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { registerStreamMetrics } from '../../src/stream/index.js';
import {
  apiKeyWithScopes,
  bearer,
  eventsUrl,
  insertInteractions,
  linkedAgent,
  listen,
  startStreamServer,
  streamDatabase,
  type StreamDatabase,
  type StreamServer,
} from './support.js';

let d: StreamDatabase;
let a: StreamServer;
let b: StreamServer;
/** Same database, a short resume window: it switches capture off soon after everyone leaves. */
let c: StreamServer;
let key: string;
let agent: string;

const quick = { presenceIntervalMs: 100, lingerMs: 200 };

beforeAll(async () => {
  d = await streamDatabase('stream_capture');
  a = await startStreamServer(d, { ...quick, resumeWindowMs: 60_000 });
  b = await startStreamServer(d, { ...quick, resumeWindowMs: 60_000 });
  c = await startStreamServer(d, { ...quick, resumeWindowMs: 1500 });
  key = await apiKeyWithScopes(d.pool, 'tenant-c', ['read']);
  agent = await linkedAgent(d.pool, 'tenant-c');
});
afterAll(async () => {
  for (const s of [a, b, c]) await s?.close();
  await d?.close();
});

async function captureState(): Promise<string> {
  return (await d.pool.query<{ state: string }>('SELECT state FROM stream_capture')).rows[0]?.state ?? '';
}

async function xidsOf(nonces: readonly number[]): Promise<(string | null)[]> {
  const { rows } = await d.pool.query<{ x: string | null }>(
    'SELECT stream_xid::text AS x FROM agent_interactions WHERE agent_id = $1 AND nonce = ANY($2::bigint[]) ORDER BY nonce',
    [agent, nonces],
  );
  return rows.map((r) => r.x);
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}

it('captures nothing and sends no NOTIFY while nobody subscribes', async () => {
  expect(await captureState()).toBe('off');
  await insertInteractions(d.pool, agent, [1, 2]);
  expect(await xidsOf([1, 2])).toEqual([null, null]);
  for (let i = 0; i < 20; i++) a.stream.notifier.committed();
  await sleep(300);
  expect(a.stream.stats().notifies).toBe(0);
});

it('admits the first subscriber only after a transaction planned before the switch has ended; every later commit is streamed', async () => {
  const early = new pg.Client(d.db.url);
  await early.connect();
  try {
    await early.query('BEGIN');
    await insertInteractions(early, agent, [10]);
    const l = listen(eventsUrl(a.baseUrl, `agent:${agent}`), bearer(key));
    let opened = false;
    void l.opened.then(() => (opened = true));
    await sleep(600);
    // The switch is done, but the stream waits for the transaction that planned its insert before it.
    expect(await captureState()).toBe('starting');
    expect(opened).toBe(false);
    await insertInteractions(early, agent, [11]);
    await early.query('COMMIT');
    await l.opened;
    expect(await captureState()).toBe('on');
    await insertInteractions(d.pool, agent, [12]);
    await l.until((e) => e.length >= 1);
    await sleep(200);
    // Its rows committed before the stream opened: not new to it. The insert it planned after
    // the switch was captured all the same.
    expect(l.events.map((e) => e.data.nonce)).toEqual(['12']);
    expect((await xidsOf([10, 11, 12])).map((x) => x === null)).toEqual([true, false, false]);
    l.close();
  } finally {
    await early.end();
  }
});

it('NOTIFYs after commits only while another receiver has subscribers, and shows it on /metrics', async () => {
  const registry = new Registry();
  registerStreamMetrics(registry, () => b.stream.stats());
  const l = listen(eventsUrl(b.baseUrl, `agent:${agent}`), bearer(key));
  await l.opened;
  await eventually(async () => {
    a.stream.notifier.committed();
    return a.stream.stats().notifies > 0;
  });
  await insertInteractions(d.pool, agent, [20]);
  a.stream.notifier.committed();
  await l.until((e) => e.some((x) => x.data.nonce === '20'));
  const text = await registry.metrics();
  expect(text).toMatch(/^machpay_stream_subscribers 1$/m);
  expect(text).toMatch(/^machpay_stream_capture_on 1$/m);
  expect(text).toMatch(/^machpay_stream_events_sent_total [1-9]/m);
  l.close();
  // b's row expires once its stream stops: a stops notifying.
  await eventually(async () => {
    const before = a.stream.stats().notifies;
    a.stream.notifier.committed();
    await sleep(100);
    return a.stream.stats().notifies === before;
  });
});

it('switches capture off once nobody has listened for the resume window; an id from before cannot be resumed', async () => {
  const l = listen(eventsUrl(a.baseUrl, `agent:${agent}`), bearer(key));
  await l.opened;
  await insertInteractions(d.pool, agent, [30]);
  await l.until((e) => e.some((x) => x.data.nonce === '30'));
  const lastId = l.events[l.events.length - 1]?.id ?? '';
  l.close();
  // c's window is 1.5 s: after it, capture is off and rows are stored without an id again.
  await eventually(async () => (await captureState()) === 'off', 15_000);
  await insertInteractions(d.pool, agent, [31]);
  expect(await xidsOf([31])).toEqual([null]);

  // a's window (60 s) still holds the id, but rows went uncaptured since: a reset, then live events.
  const resumed = listen(eventsUrl(a.baseUrl, `agent:${agent}`), { ...bearer(key), 'last-event-id': lastId });
  await resumed.opened;
  await insertInteractions(d.pool, agent, [32]);
  await resumed.until((e) => e.some((x) => x.data.nonce === '32'));
  expect(resumed.events.map((e) => (e.type === 'reset' ? `reset:${String(e.data.reason)}` : String(e.data.nonce)))).toEqual(['reset:event_id_too_old', '32']);
  resumed.close();
});

it('resets a running stream whose capture period changed under it', async () => {
  const l = listen(eventsUrl(b.baseUrl, `agent:${agent}`), bearer(key));
  await l.opened;
  await d.pool.query('UPDATE stream_capture SET since_xid = since_xid + 1');
  await l.until((e) => e.some((x) => x.type === 'reset'));
  expect(l.events.find((e) => e.type === 'reset')?.data).toEqual({ reason: 'stream_restarted' });
  l.close();
});
