/**
 * What the console test runs against: a real receiver (the built CLI) that ingests signed
 * batches into a fresh database, and, over the same database, a uWS app with the read,
 * alert, stream and console routes (the receiver's own wiring of those routes is separate),
 * reached through a relay that can drop connections. An alert evaluator runs as the
 * receiver's ingest side runs it: touched after commits, then flushed.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { pino } from 'pino';
import uWS from 'uWebSockets.js';
import { AlertEvaluator, registerAlertRoutes } from '../../src/alerts/index.js';
import { registerConsoleRoutes } from '../../src/console/index.js';
import { registerReadRoutes } from '../../src/read/index.js';
import { registerStreamRoutes, type StreamRoutes } from '../../src/stream/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { apiKeyWithScopes } from '../read/support.js';
import { startDropProxy, type DropProxy } from './drop-proxy.js';

/** Where `npm run build` puts the page (pretest builds it). */
export const BUILT_CONSOLE_DIR = fileURLToPath(new URL('../../dist/console/', import.meta.url));

export interface ConsoleServer {
  db: TestDatabase;
  pool: pg.Pool;
  receiver: RunningReceiver;
  /** The console's origin as the browser sees it (through the relay). */
  url: string;
  /** The app without the relay, for the test's own API calls. */
  directUrl: string;
  proxy: DropProxy;
  evaluator: AlertEvaluator;
  keys: { read: string; admin: string };
  close(): Promise<void>;
}

export async function startConsoleServer(tenant: string): Promise<ConsoleServer> {
  const db = await createTestDatabase('console');
  const receiver = await startReceiver({ DATABASE_URL: db.url, LOG_LEVEL: 'warn' });
  const pool = new pg.Pool({ connectionString: db.url, max: 8 });
  const log = pino({ level: process.env.CONSOLE_TEST_LOG ?? 'silent' });
  const app = uWS.App();
  registerReadRoutes(app, { pool, log });
  registerAlertRoutes(app, { pool, log });
  const stream: StreamRoutes = registerStreamRoutes(app, { pool, log, secret: randomBytes(32) });
  registerConsoleRoutes(app, { dir: BUILT_CONSOLE_DIR });
  const socket = await new Promise<uWS.us_listen_socket>((resolve, reject) =>
    app.listen('127.0.0.1', 0, (s) => (s === false ? reject(new Error('console app did not listen')) : resolve(s))),
  );
  const port = uWS.us_socket_local_port(socket);
  const proxy = await startDropProxy(port);
  const evaluator = new AlertEvaluator({ pool, log });
  const keys = { read: await apiKeyWithScopes(pool, tenant, ['read']), admin: await apiKeyWithScopes(pool, tenant, ['admin']) };
  return {
    db,
    pool,
    receiver,
    url: proxy.url,
    directUrl: `http://127.0.0.1:${port}`,
    proxy,
    evaluator,
    keys,
    async close() {
      await evaluator.stop();
      await proxy.close();
      await stream.close();
      uWS.us_listen_socket_close(socket);
      await receiver.stop();
      await pool.end();
      await db.drop();
    },
  };
}
