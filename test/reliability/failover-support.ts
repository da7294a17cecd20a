import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { query } from '../helpers/postgres.js';
import type { RunningReceiver } from '../helpers/receiver.js';
import { RetryingProducer } from '../helpers/retrying-producer.js';

/** What the failover tests read from a running receiver and its database. */

export async function metric(rx: RunningReceiver, name: string): Promise<number> {
  const text = await (await fetch(`${rx.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.split(' ')[1]);
}

export async function readyz(rx: RunningReceiver): Promise<{ status: number; body: string }> {
  const res = await fetch(`${rx.url}/readyz`);
  return { status: res.status, body: await res.text() };
}

/** Waits until `cond` holds; returns how long that took. */
export async function within(ms: number, cond: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await cond()) return Date.now() - started;
    if (Date.now() - started > ms) throw new Error(`condition not met within ${ms} ms`);
    await sleep(100);
  }
}

/** Acknowledgements the producer got during the next `ms`. */
export async function acksDuring(producer: RetryingProducer, ms: number): Promise<number> {
  const before = producer.acknowledged.size;
  await sleep(ms);
  return producer.acknowledged.size - before;
}

/** Every event the producer saw acknowledged is stored, and none twice. */
export async function expectStoredExactlyOnce(databaseUrl: string, producer: RetryingProducer): Promise<void> {
  const ids = producer.agents.map((a) => a.agentId);
  const rows = await query<{ agent_id: string; nonce: string }>(databaseUrl, 'SELECT agent_id, nonce FROM agent_interactions WHERE agent_id = ANY($1)', [ids]);
  const stored = rows.map((r) => `${r.agent_id}:${r.nonce}`);
  const storedSet = new Set(stored);
  expect(storedSet.size, 'no event stored twice').toBe(stored.length);
  const missing = [...producer.acknowledged].filter((k) => !storedSet.has(k));
  expect(missing, 'acknowledged events missing from PostgreSQL').toEqual([]);
}

/** A way of taking PostgreSQL away from the receiver, and what the receiver should report. */
export interface Outage {
  /** Names the outage in assertion messages and the summary line. */
  readonly name: string;
  begin(): Promise<void>;
  end(): Promise<void>;
  /** How soon the receiver must report PostgreSQL down. */
  readonly noticeWithinMs: number;
  /** The cause /readyz gives for PostgreSQL. */
  readonly detail: RegExp;
}

/**
 * Load from a retrying producer across `outage`: acknowledgements continue through the spool
 * with no 503, the receiver stays ready and says PostgreSQL is down and why, and once the
 * outage ends replay stores every acknowledged event exactly once.
 */
export async function expectSpoolRidesOut(rx: RunningReceiver, databaseUrl: string, outage: Outage): Promise<void> {
  const producer = new RetryingProducer(rx.url, 8);
  const start = Date.now();
  const load = producer.run(8, 20, start + 14_000, start + 60_000);

  expect(await acksDuring(producer, 2000), `acknowledgements before the ${outage.name}`).toBeGreaterThan(0);
  await outage.begin();
  let noticedMs: number;
  let during: number;
  let spooled: number;
  let ready: { status: number; body: string };
  try {
    noticedMs = await within(10_000, async () => (await metric(rx, 'machpay_postgres_up')) === 0);
    during = await acksDuring(producer, 3000);
    spooled = await metric(rx, 'machpay_spool_records');
    ready = await readyz(rx);
  } finally {
    await outage.end();
  }
  await load;

  expect(noticedMs, 'time until the receiver noticed').toBeLessThan(outage.noticeWithinMs);
  expect(during, `events acknowledged during the ${outage.name}`).toBeGreaterThan(0);
  expect(spooled).toBeGreaterThan(0);
  // Nothing was refused for it: a failover is not the client's problem.
  expect(producer.statuses.get('503') ?? 0, '503 answers').toBe(0);
  // The spool takes the writes: a 202 is honest, so the receiver stays ready.
  expect(ready.status).toBe(200);
  // The body says why: PostgreSQL down (and the cause), the spool taking the writes.
  const body = JSON.parse(ready.body) as { status: string; checks: Record<string, { ok: boolean; detail: string }> };
  expect(body.status).toBe('ready');
  expect(body.checks.postgres?.ok).toBe(false);
  expect(body.checks.postgres?.detail).toMatch(outage.detail);
  expect(body.checks.spool?.ok).toBe(true);

  await within(60_000, async () => (await metric(rx, 'machpay_spool_records')) === 0);
  expect(await metric(rx, 'machpay_postgres_up')).toBe(1);
  await expectStoredExactlyOnce(databaseUrl, producer);
  console.log(
    `${outage.name}: noticed in ${noticedMs} ms; ${during} events acknowledged in the 3 s after; ${producer.acknowledged.size} acknowledged in all; statuses ${JSON.stringify(Object.fromEntries(producer.statuses))}`,
  );
}
