/**
 * What the console test runs against: the real receiver (the built CLI, which serves the
 * console from dist/console beside the read, alert and stream routes, and evaluates alerts
 * after each commit) on a fresh database, reached through a relay that can drop connections.
 */
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { apiKeyWithScopes } from '../read/support.js';
import { startDropProxy, type DropProxy } from './drop-proxy.js';

/** Where `npm run build` puts the page (pretest builds it); the receiver serves it from there. */
export const BUILT_CONSOLE_DIR = fileURLToPath(new URL('../../dist/console/', import.meta.url));

export interface ConsoleServer {
  db: TestDatabase;
  pool: pg.Pool;
  receiver: RunningReceiver;
  /** The console's origin as the browser sees it (through the relay). */
  url: string;
  /** The receiver without the relay, for the test's own requests. */
  directUrl: string;
  proxy: DropProxy;
  keys: { read: string; admin: string };
  close(): Promise<void>;
}

export async function startConsoleServer(tenant: string): Promise<ConsoleServer> {
  const db = await createTestDatabase('console');
  const receiver = await startReceiver({ DATABASE_URL: db.url, LOG_LEVEL: 'warn' });
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  const proxy = await startDropProxy(receiver.port);
  const keys = { read: await apiKeyWithScopes(pool, tenant, ['read']), admin: await apiKeyWithScopes(pool, tenant, ['admin']) };
  return {
    db,
    pool,
    receiver,
    url: proxy.url,
    directUrl: receiver.url,
    proxy,
    keys,
    async close() {
      await proxy.close();
      await receiver.stop();
      await pool.end();
      await db.drop();
    },
  };
}
