import { afterAll, beforeAll, describe, it } from 'vitest';
import { createTestDatabase, postgresServerUrl, query, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { expectSpoolRidesOut } from './failover-support.js';

/**
 * PostgreSQL switched read-only under load, as a primary demoted to a standby is: new
 * sessions are read-only (default_transaction_read_only) and the receiver's sessions are
 * ended, so every reconnection meets a server that refuses writes (25006).
 */

let db: TestDatabase;
let rx: RunningReceiver;

async function setReadOnly(on: boolean): Promise<void> {
  await query(postgresServerUrl(), `ALTER DATABASE ${db.name} ${on ? 'SET default_transaction_read_only = on' : 'RESET default_transaction_read_only'}`);
  if (on) {
    await query(postgresServerUrl(), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'machpay-receiver'", [db.name]);
  }
}

beforeAll(async () => {
  db = await createTestDatabase('failover_readonly');
  rx = await startReceiver({ DATABASE_URL: db.url, LOG_LEVEL: 'warn', WORKERS: '1' });
}, 120_000);

afterAll(async () => {
  await rx?.stop();
  await db?.drop();
});

describe('PostgreSQL switched read-only under load', () => {
  it('acknowledges through the spool, says PostgreSQL is down, and stores every acknowledged event once after it is writable again', async () => {
    await expectSpoolRidesOut(rx, db.url, {
      name: 'read-only',
      begin: () => setReadOnly(true),
      end: () => setReadOnly(false),
      noticeWithinMs: 5000,
      detail: /read-only|25006|57P01|terminat/,
    });
  }, 120_000);
});
