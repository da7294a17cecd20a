/**
 * The spool replayer against a real PostgreSQL, in the moment PostgreSQL comes back: the
 * health check closes the pool's idle connections and kicks the replayer in the same turn
 * of the event loop (src/database/health.ts). A pass whose record is already read (an earlier
 * pass failed on it) must not take one of those closing connections.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, dropConnections } from '../../src/database/index.js';
import { encodeBatch, SpoolReplayer } from '../../src/pipeline/index.js';
import { emptyBatch, PostgresCopySink } from '../../src/sinks/postgres/index.js';
import { Spool } from '../../src/sinks/spool/index.js';
import { createMigratedDatabase, type MigratedDatabase } from '../helpers/postgres.js';
import { pollUntil } from '../helpers/receiver-cluster.js';

const silent = pino({ level: 'silent' });
let mdb: MigratedDatabase;
let dir: string;

beforeAll(async () => {
  mdb = await createMigratedDatabase('spool_replayer');
  dir = await mkdtemp(join(tmpdir(), 'spool-replayer-'));
});

afterAll(async () => {
  await mdb?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('SpoolReplayer', () => {
  it('replays at once when kicked right after the pool closed its idle connections', async () => {
    const pool = createPool(mdb.db.url, 3, silent);
    const spool = await Spool.open({ dir, maxBytes: 1 << 24, segmentBytes: 1 << 20 }, silent);
    try {
      const batch = emptyBatch();
      batch.newAgents = ['replayer-test-agent'];
      for (let i = 0; i < 3; i++) expect(await spool.append(encodeBatch(batch))).toBe('ok');
      // The head record is read already, as after a pass that failed on it.
      expect(await spool.next()).not.toBeNull();
      await Promise.all([pool.query('SELECT 1'), pool.query('SELECT 1'), pool.query('SELECT 1')]);

      const failures: string[] = [];
      const replayer = new SpoolReplayer(spool, new PostgresCopySink(pool, false), () => true, (err) => failures.push(err.message), silent);
      expect(dropConnections(pool, Infinity).idle).toBeGreaterThan(0);
      replayer.kick();

      expect(await pollUntil(async () => spool.stats().records === 0 || failures.length > 0, 10_000, 20)).toBe(true);
      await replayer.stop();
      expect(failures).toEqual([]);
      expect(spool.stats().records).toBe(0);
      expect(replayer.replayedBatches).toBe(3);
    } finally {
      await spool.close();
      await pool.end().catch(() => undefined);
    }
  });
});
