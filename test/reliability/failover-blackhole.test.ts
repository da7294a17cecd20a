import { afterAll, beforeAll, describe, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { expectSpoolRidesOut } from './failover-support.js';

/**
 * PostgreSQL black-holed under load, as a failover that silently drops packets does: a TCP
 * proxy between the receiver and PostgreSQL keeps every connection open and drops every byte.
 * No reset, no error ever reaches the receiver; only its own timeouts can tell.
 */

let db: TestDatabase;
let proxy: TcpProxy;
let rx: RunningReceiver;

beforeAll(async () => {
  db = await createTestDatabase('failover_blackhole');
  const u = new URL(db.url);
  proxy = await startTcpProxy(u.hostname, Number(u.port));
  rx = await startReceiver({ DATABASE_URL: proxy.urlThrough(db.url), LOG_LEVEL: 'warn', WORKERS: '1' });
}, 120_000);

afterAll(async () => {
  await rx?.stop();
  await proxy?.close();
  await db?.drop();
});

describe('PostgreSQL black-holed under load', () => {
  it('acknowledges through the spool, says PostgreSQL is down, and stores every acknowledged event once after it returns', async () => {
    await expectSpoolRidesOut(rx, db.url, {
      name: 'black hole',
      begin: async () => proxy.setMode('blackhole'),
      end: async () => proxy.setMode('forward'),
      // Two probes in a row without an answer (1.5 s each, 1 s apart), and the metrics poll.
      noticeWithinMs: 8000,
      detail: /no answer|timeout/,
    });
  }, 120_000);
});
