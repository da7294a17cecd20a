/**
 * Shared by the stream tests: a migrated database, receivers serving only the stream routes
 * (several may share one database, as a deployment's receivers do), agents linked to
 * tenants, rows written by plain connections (each one standing for a receiver's COPY
 * connection), and an EventSource client (the `eventsource` package) that records events.
 */
import { randomBytes } from 'node:crypto';
import { EventSource } from 'eventsource';
import pg from 'pg';
import { pino } from 'pino';
import uWS from 'uWebSockets.js';
import { registerStreamRoutes, type StreamDeps, type StreamRoutes } from '../../src/stream/index.js';
import { newAgent } from '../helpers/agent.js';
import { createMigratedDatabase, quietPool, type MigratedDatabase } from '../helpers/postgres.js';

export { apiKeyWithScopes } from '../read/support.js';

export interface StreamDatabase extends MigratedDatabase {
  /** The deployment's secret, shared by its receivers. */
  secret: Buffer;
}

export async function streamDatabase(prefix: string): Promise<StreamDatabase> {
  return { ...(await createMigratedDatabase(prefix)), secret: randomBytes(32) };
}

export interface StreamServer {
  baseUrl: string;
  stream: StreamRoutes;
  pool: pg.Pool;
  close(): Promise<void>;
}

/** One receiver's stream routes on 127.0.0.1, with a read pool of its own on `d`'s database. */
export async function startStreamServer(d: StreamDatabase, opts: Partial<StreamDeps> = {}): Promise<StreamServer> {
  const pool = quietPool(d.db.url, 6);
  const app = uWS.App();
  const stream = registerStreamRoutes(app, { pool, log: pino({ level: process.env.STREAM_TEST_LOG ?? 'silent' }), secret: d.secret, ...opts });
  const socket = await new Promise<uWS.us_listen_socket>((resolve, reject) =>
    app.listen('127.0.0.1', 0, (s) => (s === false ? reject(new Error('stream server did not listen')) : resolve(s))),
  );
  return {
    baseUrl: `http://127.0.0.1:${uWS.us_socket_local_port(socket)}`,
    stream,
    pool,
    async close() {
      await stream.close();
      uWS.us_listen_socket_close(socket);
      await pool.end();
    },
  };
}

/** A new agent registered and linked to `tenant` (null: not linked). */
export async function linkedAgent(pool: pg.Pool, tenant: string | null): Promise<string> {
  const id = newAgent().agentId;
  await pool.query('INSERT INTO agents (pubkey, tenant_id, linked_at, first_seen_at, last_seen_at) VALUES ($1, $2, now(), now(), now())', [id, tenant]);
  return id;
}

/**
 * Interactions of `agent` with these nonces, in one statement of `client`; nonces stored
 * already are skipped. As the COPY sink does, each row's key goes into agent_interaction_keys
 * in the same transaction, and only rows whose key is new are inserted.
 */
export async function insertInteractions(client: pg.ClientBase | pg.Pool, agent: string, nonces: readonly number[], errorMessage: string | null = null): Promise<number> {
  const r = await client.query(
    `WITH k AS (
       INSERT INTO agent_interaction_keys (agent_id, nonce, time)
       SELECT $1, n, '2026-01-01T00:00:00Z'::timestamptz + n * interval '1 ms' FROM unnest($2::bigint[]) AS n ORDER BY n
       ON CONFLICT DO NOTHING RETURNING nonce, time)
     INSERT INTO agent_interactions (time, agent_id, vendor_id, nonce, amount_atomic, success, latency_ms, error_message)
     SELECT time, $1, 'vendor-1', nonce, 9007199254740993, true, 12, $3 FROM k`,
    [agent, nonces, errorMessage],
  );
  return r.rowCount ?? 0;
}

export interface ReceivedEvent {
  type: string;
  id: string;
  data: Record<string, unknown>;
  atMs: number;
}

export interface Listener {
  events: ReceivedEvent[];
  es: EventSource;
  opened: Promise<void>;
  /** Resolves once `predicate` holds for the events so far (checked on each event), or rejects after `timeoutMs`. */
  until(predicate: (events: ReceivedEvent[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): void;
}

/** An EventSource on `url` with these extra request headers; it does not reconnect by itself. */
export function listen(url: string, headers: Record<string, string> = {}): Listener {
  const events: ReceivedEvent[] = [];
  const waiters: { p: (e: ReceivedEvent[]) => boolean; resolve: () => void }[] = [];
  const es = new EventSource(url, {
    fetch: (input, init) => fetch(input, { ...init, headers: { ...(init.headers as Record<string, string>), ...headers } }),
  });
  const opened = new Promise<void>((resolve, reject) => {
    es.addEventListener('open', () => resolve());
    es.addEventListener('error', (e) => reject(new Error(`EventSource error: ${(e as { message?: string }).message ?? 'closed'}`)));
  });
  opened.catch(() => undefined);
  const record = (type: string) => (e: MessageEvent) => {
    events.push({ type, id: e.lastEventId, data: JSON.parse(e.data as string) as Record<string, unknown>, atMs: performance.now() });
    for (const w of [...waiters]) {
      if (w.p(events)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  for (const t of ['interaction', 'telemetry', 'alert', 'reset']) es.addEventListener(t, record(t));
  // A drop is a test's business: no automatic reconnection.
  es.addEventListener('error', () => es.close());
  return {
    events,
    es,
    opened,
    until(predicate, timeoutMs = 10_000) {
      if (predicate(events)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const w = { p: predicate, resolve: () => (clearTimeout(timer), resolve()) };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`timed out with ${events.length} events`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    close: () => es.close(),
  };
}

export const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

export function eventsUrl(base: string, topic: string, extra: Record<string, string> = {}): string {
  return `${base}/v1/agent/events?${new URLSearchParams({ topic, ...extra }).toString()}`;
}
