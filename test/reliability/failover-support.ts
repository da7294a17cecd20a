import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { query } from '../helpers/postgres.js';
import type { RunningReceiver } from '../helpers/receiver.js';
import type { RetryingProducer } from '../helpers/retrying-producer.js';

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
