import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiKeyWithScopes,
  bearer,
  eventsUrl,
  insertInteractions,
  linkedAgent,
  listen,
  startStreamServer,
  streamDatabase,
  type ReceivedEvent,
  type StreamDatabase,
  type StreamServer,
} from './support.js';

const nonces = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);
const interactionNonces = (events: ReceivedEvent[], agent?: string): number[] =>
  events.filter((e) => e.type === 'interaction' && (agent === undefined || e.data.agent_id === agent)).map((e) => Number(e.data.nonce));

describe('live stream (docs/read-api.md §4)', () => {
  let d: StreamDatabase;
  let a: StreamServer;
  let b: StreamServer;
  let keyA: string;
  let keyB: string;
  let agent1: string;
  let agent2: string;
  let agentOfB: string;

  beforeAll(async () => {
    d = await streamDatabase('stream');
    a = await startStreamServer(d);
    b = await startStreamServer(d);
    keyA = await apiKeyWithScopes(d.pool, 'tenant-a', ['read']);
    keyB = await apiKeyWithScopes(d.pool, 'tenant-b', ['read']);
    agent1 = await linkedAgent(d.pool, 'tenant-a');
    agent2 = await linkedAgent(d.pool, 'tenant-a');
    agentOfB = await linkedAgent(d.pool, 'tenant-b');
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await d?.close();
  });

  it('delivers rows from two writer connections to a subscriber on each receiver, once each, in order per agent', async () => {
    const onA = listen(eventsUrl(a.baseUrl, 'agent:*'), bearer(keyA));
    const onB = listen(eventsUrl(b.baseUrl, `agent:${agent1}`), bearer(keyA));
    await Promise.all([onA.opened, onB.opened]);
    const w1 = new pg.Client(d.db.url);
    const w2 = new pg.Client(d.db.url);
    await Promise.all([w1.connect(), w2.connect()]);
    try {
      // Writer 1 stores agent1's rows, writer 2 agent2's, in small transactions at the same time.
      await Promise.all([
        (async () => {
          for (let i = 0; i < 40; i++) await insertInteractions(w1, agent1, nonces(1000 + i * 5, 5));
        })(),
        (async () => {
          for (let i = 0; i < 40; i++) await insertInteractions(w2, agent2, nonces(5000 + i * 5, 5));
        })(),
        insertInteractions(w1, agentOfB, [1]).then(() => undefined),
      ]);
    } finally {
      await Promise.all([w1.end(), w2.end()]);
    }
    await onA.until((e) => e.length >= 400);
    await onB.until((e) => e.length >= 200);
    await new Promise((r) => setTimeout(r, 300));
    expect(interactionNonces(onA.events, agent1)).toEqual(nonces(1000, 200));
    expect(interactionNonces(onA.events, agent2)).toEqual(nonces(5000, 200));
    expect(onA.events).toHaveLength(400); // nothing of tenant B's agent
    expect(interactionNonces(onB.events)).toEqual(nonces(1000, 200));
    expect(new Set(onA.events.map((e) => e.id)).size).toBe(400);
    const first = onA.events.find((e) => e.data.agent_id === agent1)?.data;
    expect(first).toMatchObject({ agent_id: agent1, vendor_id: 'vendor-1', amount_atomic: '9007199254740993', success: true, latency_ms: 12 });
    expect(typeof first?.time).toBe('string');
    onA.close();
    onB.close();
  });

  it('streams nothing for a duplicate the producer sends again', async () => {
    await insertInteractions(d.pool, agent1, [77_000, 77_001]);
    const s = listen(eventsUrl(a.baseUrl, `agent:${agent1}`), bearer(keyA));
    await s.opened;
    expect(await insertInteractions(d.pool, agent1, [77_000, 77_001, 77_002])).toBe(1);
    await s.until((e) => e.length >= 1);
    await new Promise((r) => setTimeout(r, 500));
    expect(interactionNonces(s.events)).toEqual([77_002]);
    s.close();
  });

  it('resumes after a drop with Last-Event-ID, on the other receiver, with no gap and no repeat while writes go on', async () => {
    const first = listen(eventsUrl(a.baseUrl, `agent:${agent2}`), bearer(keyA));
    await first.opened;
    let writing = true;
    let next = 100_000;
    const writer = (async () => {
      while (writing) {
        await insertInteractions(d.pool, agent2, nonces(next, 3));
        next += 3;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await first.until((e) => e.length >= 30);
    first.close();
    const lastId = first.events[first.events.length - 1]?.id as string;
    await new Promise((r) => setTimeout(r, 200)); // writes go on while nobody listens
    const second = listen(eventsUrl(b.baseUrl, `agent:${agent2}`), { ...bearer(keyA), 'last-event-id': lastId });
    await second.until((e) => e.length >= 60);
    writing = false;
    await writer;
    await second.until((e) => interactionNonces(e).at(-1) === next - 1);
    const all = [...interactionNonces(first.events), ...interactionNonces(second.events)];
    expect(all).toEqual(nonces(100_000, next - 100_000));
    second.close();

    // The same through the query parameter.
    const third = listen(eventsUrl(a.baseUrl, `agent:${agent2}`, { last_event_id: first.events[9]?.id as string }), bearer(keyA));
    await third.until((e) => e.length >= next - 100_000 - 10);
    expect(interactionNonces(third.events)).toEqual(nonces(100_010, next - 100_010));
    third.close();
  });

  it('answers an id that is too old, or not one of ours, with a reset first', async () => {
    const short = await startStreamServer(d, { resumeWindowMs: 300 });
    try {
      const s = listen(eventsUrl(short.baseUrl, `agent:${agent1}`), bearer(keyA));
      await s.opened;
      await insertInteractions(d.pool, agent1, [88_000]);
      await s.until((e) => e.length >= 1);
      s.close();
      await new Promise((r) => setTimeout(r, 400));
      const late = listen(eventsUrl(short.baseUrl, `agent:${agent1}`), { ...bearer(keyA), 'last-event-id': s.events[0]?.id as string });
      await late.until((e) => e.length >= 1);
      expect(late.events[0]).toMatchObject({ type: 'reset', data: { reason: 'event_id_too_old' } });
      late.close();
      const forged = listen(eventsUrl(short.baseUrl, `agent:${agent1}`), { ...bearer(keyA), 'last-event-id': '1.0.0.0.AAAAAAAAAAAAAAAA' });
      await forged.until((e) => e.length >= 1);
      expect(forged.events[0]).toMatchObject({ type: 'reset', data: { reason: 'unknown_event_id' } });
      forged.close();
    } finally {
      await short.close();
    }
  });

  it('resets and closes a subscriber that does not read, while another keeps receiving and writes are not held up', async () => {
    const tight = await startStreamServer(d, { maxQueuedBytes: 1024 * 1024 });
    try {
      const agent = await linkedAgent(d.pool, 'tenant-a');
      const reader = listen(eventsUrl(tight.baseUrl, `agent:${agent}`), bearer(keyA));
      await reader.opened;
      // A client that sends its request and never reads a byte.
      const stalled = net.connect({ host: '127.0.0.1', port: Number(new URL(tight.baseUrl).port) });
      stalled.pause();
      // The receiver cuts this connection: a reset by the peer is the expected end.
      stalled.on('error', () => undefined);
      const closed = new Promise<void>((resolve) => stalled.on('close', () => resolve()));
      stalled.write(`GET /v1/agent/events?topic=agent:${agent} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${keyA}\r\n\r\n`);
      await new Promise((r) => setTimeout(r, 200));
      expect(tight.stream.hub.snapshot().subscribers).toBe(2);
      const big = 'x'.repeat(8 * 1024);
      const t0 = performance.now();
      for (let i = 0; i < 150; i++) {
        await insertInteractions(d.pool, agent, nonces(i * 20, 20), big);
        // Paced so that the reading client keeps up; the stalled one falls behind regardless.
        await reader.until((e) => e.length >= i * 20 - 100);
      }
      const writeMs = performance.now() - t0;
      await reader.until((e) => e.length >= 3000, 20_000);
      expect(interactionNonces(reader.events)).toEqual(nonces(0, 3000));
      expect(tight.stream.hub.snapshot()).toMatchObject({ subscribers: 1, resets: 1 });
      // The receiver has cut the connection; a paused socket notices once it reads again.
      await new Promise((r) => setTimeout(r, 2500));
      stalled.resume();
      await closed;
      expect(tight.stream.hub.snapshot()).toMatchObject({ subscribers: 1, resets: 1 });
      console.log(`[stream] 3000 rows of 8 KiB written in ${writeMs.toFixed(0)} ms while one subscriber stalled`);
      reader.close();
    } finally {
      await tight.close();
    }
  });

  it('keeps tenants apart', async () => {
    const s = listen(eventsUrl(a.baseUrl, 'agent:*'), bearer(keyB));
    await s.opened;
    await insertInteractions(d.pool, agent1, [99_000]);
    await insertInteractions(d.pool, agentOfB, [99_001]);
    await s.until((e) => e.length >= 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(s.events.map((e) => e.data.agent_id)).toEqual([agentOfB]);
    s.close();
    const other = await fetch(eventsUrl(a.baseUrl, `agent:${agent1}`), { headers: bearer(keyB) });
    expect(other.status).toBe(404);
    const noKey = await fetch(eventsUrl(a.baseUrl, 'agent:*'));
    expect(noKey.status).toBe(401);
    const ingestKey = await apiKeyWithScopes(d.pool, 'tenant-a', ['ingest']);
    expect((await fetch(eventsUrl(a.baseUrl, 'agent:*'), { headers: bearer(ingestKey) })).status).toBe(403);
    expect((await fetch(eventsUrl(a.baseUrl, 'agent:nope'), { headers: bearer(keyA) })).status).toBe(400);
  });

  it('registers a stream that resumes during a live read only after it, so that read\'s rows of its agent are not lost', async () => {
    // Each live read returns only the rows of the agents subscribed when it began. A read is
    // held up here (a lock on the table it reads) after its snapshot may already cover rows
    // of an agent nobody watches; a stream of that agent resumes meanwhile. Its catch-up must
    // reach past that read, or the read's rows of its agent would be lost. (A read whose
    // horizon is held back by another transaction does not cover them: three rounds.)
    const waiting = async (): Promise<boolean> => {
      const { rows } = await d.pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'BEGIN ISOLATION LEVEL REPEATABLE READ%'",
      );
      return (rows[0]?.n ?? 0) >= 1;
    };
    for (let round = 0; round < 3; round++) {
      const base = 400_000 + round * 10;
      const first = listen(eventsUrl(a.baseUrl, `agent:${agent2}`), bearer(keyA));
      await first.opened;
      await insertInteractions(d.pool, agent2, [base]);
      await first.until((e) => e.length >= 1);
      first.close();
      // Until the receiver has seen the close, its reads still want agent2's rows.
      await new Promise((r) => setTimeout(r, 300));
      await insertInteractions(d.pool, agent2, [base + 1, base + 2]);
      const locker = new pg.Client(d.db.url);
      await locker.connect();
      let resumed: ReturnType<typeof listen> | undefined;
      try {
        await locker.query('BEGIN; LOCK TABLE agent_interactions IN ACCESS EXCLUSIVE MODE');
        // The stream polls the log: its next read takes its snapshot, then waits for the lock.
        for (let i = 0; !(await waiting()); i++) {
          if (i > 200) throw new Error('no live read waited for the lock');
          await new Promise((r) => setTimeout(r, 20));
        }
        resumed = listen(eventsUrl(a.baseUrl, `agent:${agent2}`), { ...bearer(keyA), 'last-event-id': first.events[0]?.id as string });
        await new Promise((r) => setTimeout(r, 300));
      } finally {
        await locker.query('COMMIT');
        await locker.end();
      }
      const r = resumed as ReturnType<typeof listen>;
      await r.until((e) => e.length >= 2);
      await new Promise((done) => setTimeout(done, 200));
      expect(interactionNonces(r.events)).toEqual([base + 1, base + 2]);
      r.close();
    }
  });

  it('opens streams with a stream token: valid, expired, wrong topic', async () => {
    const res = await fetch(`${a.baseUrl}/v1/stream/tokens`, {
      method: 'POST',
      headers: { ...bearer(keyA), 'content-type': 'application/json' },
      body: JSON.stringify({ topics: [`agent:${agent1}`] }),
    });
    expect(res.status).toBe(201);
    const { token, expires_at } = (await res.json()) as { token: string; expires_at: string };
    expect(Date.parse(expires_at) - Date.now()).toBeGreaterThan(9 * 60_000);
    // Issued by receiver a, accepted by receiver b: the token is signed with the deployment's secret.
    const s = listen(eventsUrl(b.baseUrl, `agent:${agent1}`, { access_token: token }));
    await s.opened;
    await insertInteractions(d.pool, agent1, [99_500]);
    await s.until((e) => e.length >= 1);
    expect(interactionNonces(s.events)).toEqual([99_500]);
    s.close();
    expect((await fetch(eventsUrl(b.baseUrl, 'agent:*', { access_token: token }))).status).toBe(403);
    expect((await fetch(eventsUrl(b.baseUrl, `agent:${agent1}`, { access_token: token + 'x' }))).status).toBe(401);
    const later = await startStreamServer(d, { clock: () => Date.now() + 11 * 60_000 });
    try {
      expect((await fetch(eventsUrl(later.baseUrl, `agent:${agent1}`, { access_token: token }))).status).toBe(401);
    } finally {
      await later.close();
    }
    const foreign = await fetch(`${a.baseUrl}/v1/stream/tokens`, {
      method: 'POST',
      headers: { ...bearer(keyB), 'content-type': 'application/json' },
      body: JSON.stringify({ topics: [`agent:${agent1}`] }),
    });
    expect(foreign.status).toBe(404);
  });
});
