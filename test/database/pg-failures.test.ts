import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyPgError, createPool, dropConnections, ensureMonthlyPartitions, migrate, sessionSettings, withClient } from '../../src/database/index.js';
import { createTestDatabase, postgresServerUrl, query, type TestDatabase } from '../helpers/postgres.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

/**
 * The failures a failover, a restart, a rotated password or a lock can cause, caused for
 * real on the test PostgreSQL, and what classifyPgError makes of each; and the session
 * limits every connection of the receiver carries.
 */

const log = pino({ level: 'silent' });
let db: TestDatabase;
const pools: pg.Pool[] = [];

function pool(overrides: Parameters<typeof sessionSettings>[0] = {}, url = db.url): pg.Pool {
  const p = createPool(url, 2, log, sessionSettings(overrides));
  pools.push(p);
  return p;
}

async function failure(run: () => Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await run();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a failure, got none');
}

beforeAll(async () => {
  db = await createTestDatabase('pg_failures');
  await withClient(db.url, (c) => migrate(c));
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
  await db?.drop();
});

describe('session limits on every connection', () => {
  it('sets the timeouts, synchronous_commit = on (over a database default of off) and the application name', async () => {
    await query(postgresServerUrl(), `ALTER DATABASE ${db.name} SET synchronous_commit = off`);
    try {
      const p = pool();
      const { rows } = await p.query<Record<string, string>>(
        "SELECT current_setting('statement_timeout') AS st, current_setting('idle_in_transaction_session_timeout') AS idle, current_setting('synchronous_commit') AS sc, current_setting('application_name') AS app",
      );
      expect(rows[0]).toEqual({ st: '30s', idle: '1min', sc: 'on', app: 'machpay-receiver' });
      // A connection without the receiver's settings sees the database default: the setting matters.
      const plain = new pg.Client({ connectionString: db.url });
      await plain.connect();
      try {
        expect((await plain.query<{ sc: string }>("SELECT current_setting('synchronous_commit') AS sc")).rows[0]?.sc).toBe('off');
      } finally {
        await plain.end();
      }
    } finally {
      await query(postgresServerUrl(), `ALTER DATABASE ${db.name} RESET synchronous_commit`);
    }
  });

  it('keeps an operator options parameter in the URL beside its own', async () => {
    const url = new URL(db.url);
    url.searchParams.set('options', '-c work_mem=7MB');
    const p = pool({}, url.toString());
    const { rows } = await p.query<Record<string, string>>("SELECT current_setting('work_mem') AS wm, current_setting('synchronous_commit') AS sc");
    expect(rows[0]).toEqual({ wm: '7MB', sc: 'on' });
  });

  it('withClient (migrations, commands) has no statement timeout', async () => {
    const rows = await query<{ st: string; sc: string }>(db.url, "SELECT current_setting('statement_timeout') AS st, current_setting('synchronous_commit') AS sc");
    expect(rows[0]).toEqual({ st: '0', sc: 'on' });
  });

  it('asks for TCP keepalive and the connect and query timeouts on pooled connections', () => {
    // The driver applies them client-side (socket.setKeepAlive, its own timers): not visible from the server.
    const o = pool().options;
    expect({ keepAlive: o.keepAlive, delay: o.keepAliveInitialDelayMillis, connect: o.connectionTimeoutMillis, query: o.query_timeout }).toEqual({
      keepAlive: true,
      delay: 10_000,
      connect: 5_000,
      query: 35_000,
    });
  });
});

describe('failures caused on a real PostgreSQL', () => {
  it('read-only database for new sessions: 25006, unavailable', async () => {
    await query(postgresServerUrl(), `ALTER DATABASE ${db.name} SET default_transaction_read_only = on`);
    try {
      const err = await failure(() => pool().query("INSERT INTO agents (pubkey, first_seen_at, last_seen_at) VALUES ('ro', now(), now())"));
      expect(err.code).toBe('25006');
      expect(classifyPgError(err)).toBe('unavailable');
    } finally {
      await query(postgresServerUrl(), `ALTER DATABASE ${db.name} RESET default_transaction_read_only`);
    }
  });

  it('statement timeout: 57014, unavailable', async () => {
    const err = await failure(() => pool({ statementTimeoutMs: 200, queryTimeoutMs: 5000 }).query('SELECT pg_sleep(5)'));
    expect(err.code).toBe('57014');
    expect(classifyPgError(err)).toBe('unavailable');
  });

  it('idle in transaction past the limit: the server ends the session, unavailable', async () => {
    const p = pool({ idleInTransactionTimeoutMs: 200 });
    const client = await p.connect();
    client.on('error', () => undefined);
    try {
      await client.query('BEGIN');
      await new Promise((r) => setTimeout(r, 600));
      const err = await failure(() => client.query('SELECT 1'));
      expect(classifyPgError(err)).toBe('unavailable');
    } finally {
      client.release(true);
    }
  });

  it('partition DDL behind a transaction holding the table: 55P03 within the lock timeout, unavailable', async () => {
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      // What an open COPY into the table holds.
      await holder.query('LOCK TABLE agent_interactions IN ROW EXCLUSIVE MODE');
      const client = await pool().connect();
      const started = Date.now();
      try {
        const err = await failure(() => ensureMonthlyPartitions(client, new Date(), { ddlLockTimeoutMs: 300, ddlStatementTimeoutMs: 60_000 }));
        expect(err.code).toBe('55P03');
        expect(classifyPgError(err)).toBe('unavailable');
        expect(Date.now() - started).toBeLessThan(3000);
      } finally {
        client.release();
      }
      await holder.query('ROLLBACK');
      // Once the table is free, the same call creates the partitions.
      const after = await pool().connect();
      try {
        expect((await ensureMonthlyPartitions(after)).length).toBe(4);
      } finally {
        after.release();
      }
    } finally {
      await holder.end();
    }
  });

  it('terminated backend (failover, restart): 57P01, unavailable', async () => {
    const p = pool();
    const client = await p.connect();
    client.on('error', () => undefined);
    try {
      const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
      await query(db.url, 'SELECT pg_terminate_backend($1)', [pid]);
      const err = await failure(() => client.query('SELECT 1'));
      expect(classifyPgError(err)).toBe('unavailable');
    } finally {
      client.release(true);
    }
  });

  it('wrong password (rotated): 28P01, unavailable', async () => {
    const role = `rotated_${Date.now()}`;
    await query(postgresServerUrl(), `CREATE ROLE ${role} LOGIN PASSWORD 'old-password'`);
    try {
      const url = new URL(db.url);
      url.username = role;
      url.password = 'new-password';
      const err = await failure(() => pool({}, url.toString()).query('SELECT 1'));
      expect(err.code).toBe('28P01');
      expect(classifyPgError(err)).toBe('unavailable');
    } finally {
      await query(postgresServerUrl(), `DROP ROLE ${role}`);
    }
  });

  it('errors a retry cannot fix are permanent: 22012, 23502, 42P01', async () => {
    const p = pool();
    for (const [sql, code] of [
      ['SELECT 1 / 0', '22012'],
      ['INSERT INTO agents (pubkey, first_seen_at, last_seen_at) VALUES (NULL, now(), now())', '23502'],
      ['SELECT * FROM no_such_table', '42P01'],
    ] as const) {
      const err = await failure(() => p.query(sql));
      expect(err.code).toBe(code);
      expect(classifyPgError(err)).toBe('permanent');
    }
  });
});

describe('dropConnections', () => {
  it('closes idle connections and those in use longer than asked, and retires the others when released', async () => {
    // Its own application_name (the URL's wins over the receiver's), to count its sessions alone.
    const url = new URL(db.url);
    url.searchParams.set('application_name', 'drop_test');
    const p = createPool(url.toString(), 3, log);
    pools.push(p);
    const idle = await p.connect();
    const old = await p.connect();
    const oldAt = performance.now();
    old.on('error', () => undefined);
    await new Promise((r) => setTimeout(r, 300));
    const young = await p.connect();
    const youngAt = performance.now();
    idle.release();
    const pids = async (): Promise<number> =>
      Number((await query<{ n: string }>(db.url, "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'drop_test'", [db.name]))[0]?.n);
    expect(await pids()).toBe(3);
    // Halfway between the two ages, however long the count above took on a busy machine.
    const busyFor = performance.now() - youngAt + (youngAt - oldAt) / 2;
    expect(dropConnections(p, busyFor)).toEqual({ idle: 1, busy: 1 });
    expect(classifyPgError(await failure(() => old.query('SELECT 1')))).toBe('unavailable');
    old.release(true);
    // The young one finishes its work, then is closed instead of going back to the pool.
    expect((await young.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one).toBe(1);
    young.release();
    await expect.poll(pids, { timeout: 3000, interval: 50 }).toBe(0);
    expect((await p.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one).toBe(1);
  });
});

describe('failures of the network (TCP proxy)', () => {
  let proxy: TcpProxy;
  beforeAll(async () => {
    const u = new URL(db.url);
    proxy = await startTcpProxy(u.hostname, Number(u.port));
  });
  afterAll(() => proxy?.close());

  it('a black-holed COMMIT fails after the client-side query timeout, unavailable', async () => {
    proxy.setMode('forward');
    const p = pool({ statementTimeoutMs: 500, queryTimeoutMs: 1000 }, proxy.urlThrough(db.url));
    const client = await p.connect();
    client.on('error', () => undefined);
    try {
      await client.query('BEGIN');
      await client.query("INSERT INTO agents (pubkey, first_seen_at, last_seen_at) VALUES ('blackholed', now(), now())");
      proxy.setMode('blackhole');
      const started = Date.now();
      const err = await failure(() => client.query('COMMIT'));
      const took = Date.now() - started;
      expect(err.message).toBe('Query read timeout');
      expect(classifyPgError(err)).toBe('unavailable');
      expect(took).toBeGreaterThanOrEqual(900);
      expect(took).toBeLessThan(3000);
    } finally {
      client.release(true);
      proxy.setMode('forward');
    }
  });

  it('a black-holed connect fails after the connect timeout, unavailable', async () => {
    proxy.setMode('blackhole');
    try {
      const started = Date.now();
      const err = await failure(() => pool({ connectTimeoutMs: 500 }, proxy.urlThrough(db.url)).query('SELECT 1'));
      expect(classifyPgError(err)).toBe('unavailable');
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      proxy.setMode('forward');
    }
  });

  it('a refused or reset connection is unavailable', async () => {
    const p = pool({}, proxy.urlThrough(db.url));
    const client = await p.connect();
    client.on('error', () => undefined);
    try {
      proxy.setMode('refuse');
      const reset = await failure(() => client.query('SELECT 1'));
      expect(classifyPgError(reset)).toBe('unavailable');
      const refused = await failure(() => pool({}, proxy.urlThrough(db.url)).query('SELECT 1'));
      expect(classifyPgError(refused)).toBe('unavailable');
    } finally {
      client.release(true);
      proxy.setMode('forward');
    }
  });
});
