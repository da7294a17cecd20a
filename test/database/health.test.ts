import type pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyPgError, createPool, PostgresHealth, readiness, type SpoolReadiness } from '../../src/database/index.js';
import { createTestDatabase, postgresServerUrl, query, type TestDatabase } from '../helpers/postgres.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

/** PostgresHealth against a real PostgreSQL behind a TCP proxy: black-holed, read-only, refused, back. */

const log = pino({ level: 'silent' });
let db: TestDatabase;
let proxy: TcpProxy;
let pool: pg.Pool;
const healths: PostgresHealth[] = [];

function watch(options: ConstructorParameters<typeof PostgresHealth>[3] = {}): { health: PostgresHealth; changes: boolean[] } {
  const changes: boolean[] = [];
  const health = new PostgresHealth(pool, log, (up) => changes.push(up), { intervalMs: 200, probeTimeoutMs: 500, ...(typeof options === 'number' ? {} : options) });
  healths.push(health);
  return { health, changes };
}

beforeAll(async () => {
  db = await createTestDatabase('pg_health');
  const u = new URL(db.url);
  proxy = await startTcpProxy(u.hostname, Number(u.port));
  pool = createPool(proxy.urlThrough(db.url), 2, log);
});

afterAll(async () => {
  for (const h of healths) h.stop();
  await pool?.end().catch(() => undefined);
  await proxy?.close();
  await db?.drop();
});

describe('PostgresHealth', () => {
  it('notices a black-holed server within a few probes, and its return', async () => {
    const { health, changes } = watch();
    await new Promise((r) => setTimeout(r, 500));
    expect(health.isUp).toBe(true);
    proxy.setMode('blackhole');
    const started = Date.now();
    try {
      await expect.poll(() => health.isUp, { timeout: 5000, interval: 50 }).toBe(false);
      // Two probes of 500 ms in a row, 200 ms apart.
      expect(Date.now() - started).toBeLessThan(2500);
      expect(health.status().detail).toMatch(/no answer within 500 ms|timeout/);
      // A COPY cut off by it fails too; the cause stays what the probe found.
      health.markDown(new Error('Connection terminated unexpectedly'));
      expect(health.status().detail).toMatch(/no answer within 500 ms|timeout/);
    } finally {
      proxy.setMode('forward');
    }
    await expect.poll(() => health.isUp, { timeout: 5000, interval: 50 }).toBe(true);
    expect(changes).toEqual([false, true]);
    health.stop();
  });

  it('cuts off a COMMIT stuck on a black-holed connection within a few probes, not the 35 s query timeout', async () => {
    const { health } = watch();
    const client = await pool.connect();
    client.on('error', () => undefined);
    try {
      await client.query('BEGIN');
      await client.query('SELECT txid_current()');
      proxy.setMode('blackhole');
      const started = Date.now();
      const outcome = await client.query('COMMIT').then(
        () => 'committed',
        (err: Error) => classifyPgError(err),
      );
      expect(outcome).toBe('unavailable');
      expect(Date.now() - started).toBeLessThan(4000);
      expect(health.isUp).toBe(false);
    } finally {
      client.release(true);
      proxy.setMode('forward');
    }
    await expect.poll(() => health.isUp, { timeout: 5000, interval: 50 }).toBe(true);
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one).toBe(1);
    health.stop();
  });

  it('notices refused connections at the first probe', async () => {
    const { health } = watch();
    proxy.setMode('refuse');
    try {
      await expect.poll(() => health.isUp, { timeout: 3000, interval: 50 }).toBe(false);
    } finally {
      proxy.setMode('forward');
    }
    await expect.poll(() => health.isUp, { timeout: 3000, interval: 50 }).toBe(true);
    health.stop();
  });

  it('notices a database switched read-only for new sessions, and switched back', async () => {
    const { health } = watch();
    await query(postgresServerUrl(), `ALTER DATABASE ${db.name} SET default_transaction_read_only = on`);
    try {
      await expect.poll(() => health.isUp, { timeout: 3000, interval: 50 }).toBe(false);
      expect(health.status().detail).toMatch(/read-only/);
    } finally {
      await query(postgresServerUrl(), `ALTER DATABASE ${db.name} RESET default_transaction_read_only`);
    }
    await expect.poll(() => health.isUp, { timeout: 3000, interval: 50 }).toBe(true);
    health.stop();
  });

  it('after a failed write stays down for the hold-down, doubling while writes keep failing', async () => {
    const { health } = watch({ holdDownMs: 800, maxHoldDownMs: 10_000, stableMs: 60_000 });
    let at = Date.now();
    health.markDown(Object.assign(new Error('could not extend file: No space left on device'), { code: '53100' }));
    expect(health.isUp).toBe(false);
    expect(health.status().detail).toMatch(/^write failed: 53100/);
    await expect.poll(() => health.isUp, { timeout: 5000, interval: 20 }).toBe(true);
    const first = Date.now() - at;
    at = Date.now();
    health.markDown(Object.assign(new Error('could not extend file'), { code: '53100' }));
    await expect.poll(() => health.isUp, { timeout: 5000, interval: 20 }).toBe(true);
    const second = Date.now() - at;
    expect(first).toBeGreaterThanOrEqual(800);
    expect(second).toBeGreaterThanOrEqual(1600);
    health.stop();
  });
});

describe('readiness', () => {
  const spool = (over: Partial<SpoolReadiness> = {}): SpoolReadiness => ({ full: false, failed: false, records: 0, bytes: 0, maxBytes: 1 << 20, oldestAppendedAt: null, ...over });

  it('is ready while PostgreSQL takes writes, or while the spool can take them instead', async () => {
    const { health } = watch();
    const up = readiness({ stopping: false, postgres: health, pool, spool: spool() });
    expect(up.ready).toBe(true);
    expect(up.checks.postgres).toMatchObject({ ok: true, detail: 'writable' });
    expect(up.checks.pool).toMatchObject({ ok: true, max: 2 });
    expect(up.checks.spool).toMatchObject({ ok: true, detail: 'empty' });

    health.markDown(Object.assign(new Error('read only'), { code: '25006' }));
    const spooling = readiness({ stopping: false, postgres: health, pool, spool: spool({ records: 3, oldestAppendedAt: Date.now() - 1000 }) });
    expect(spooling.ready).toBe(true);
    expect(spooling.checks.postgres).toMatchObject({ ok: false, detail: 'write failed: 25006 read only' });
    expect(spooling.checks.spool.detail).toBe('3 batches waiting for PostgreSQL');
    expect(spooling.checks.spool.oldestAgeMs).toBeGreaterThanOrEqual(1000);

    expect(readiness({ stopping: false, postgres: health, pool, spool: spool({ full: true }) })).toMatchObject({ ready: false, checks: { spool: { ok: false } } });
    expect(readiness({ stopping: false, postgres: health, pool, spool: spool({ failed: true }) }).ready).toBe(false);
    expect(readiness({ stopping: false, postgres: health, pool, spool: null }).ready).toBe(false);
    health.stop();
    const fresh = watch().health;
    expect(readiness({ stopping: true, postgres: fresh, pool, spool: spool() })).toMatchObject({ ready: false, checks: { shutdown: { ok: false } } });
    fresh.stop();
  });

  it('says so when every pool connection is busy and batches wait for one', async () => {
    const { health } = watch();
    const held = [await pool.connect(), await pool.connect()];
    const waiting = pool.connect();
    try {
      const r = readiness({ stopping: false, postgres: health, pool, spool: null });
      expect(r.checks.pool).toMatchObject({ ok: false, waiting: 1, total: 2 });
      expect(r.ready).toBe(false);
      expect(readiness({ stopping: false, postgres: health, pool, spool: spool() }).ready).toBe(true);
    } finally {
      for (const c of held) c.release();
      (await waiting).release();
      health.stop();
    }
  });
});
