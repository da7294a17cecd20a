/**
 * Shared by the read API tests: a migrated database, a uWS app serving only the read
 * routes on a port of its own, API keys with scopes, agent-signed requests, and rows
 * written straight into the tables the read side sums.
 */
import pg from 'pg';
import { pino } from 'pino';
import uWS from 'uWebSockets.js';
import { createApiKey } from '../../src/api-keys/index.js';
import { registerReadRoutes, type ReadApiDeps } from '../../src/read/index.js';
import { newAgent, signAgentRequest, type TestAgent } from '../helpers/agent.js';
import { createMigratedDatabase, type TestDatabase } from '../helpers/postgres.js';

export interface ReadServer {
  db: TestDatabase;
  pool: pg.Pool;
  baseUrl: string;
  close(): Promise<void>;
}

/** A fresh database, migrated, and the read routes listening on 127.0.0.1. */
export async function startReadServer(prefix: string, opts: Partial<ReadApiDeps> = {}): Promise<ReadServer> {
  const { db, pool, close } = await createMigratedDatabase(prefix, 4);
  const app = uWS.App();
  registerReadRoutes(app, { pool, log: pino({ level: process.env.READ_TEST_LOG ?? 'silent' }), ...opts });
  const socket = await new Promise<uWS.us_listen_socket>((resolve, reject) =>
    app.listen('127.0.0.1', 0, (s) => (s === false ? reject(new Error('read server did not listen')) : resolve(s))),
  );
  const port = uWS.us_socket_local_port(socket);
  return {
    db,
    pool,
    baseUrl: `http://127.0.0.1:${port}`,
    async close() {
      uWS.us_listen_socket_close(socket);
      await close();
    },
  };
}

/** A key of `tenant` with exactly `scopes`; returns its text. */
export async function apiKeyWithScopes(pool: pg.Pool, tenant: string, scopes: string[]): Promise<string> {
  const client = await pool.connect();
  try {
    const { record, key } = await createApiKey(client, { tenantId: tenant, name: `test ${scopes.join('+')}`, test: true });
    await client.query('UPDATE api_keys SET scopes = $2 WHERE id = $1', [record.id, scopes]);
    return key;
  } finally {
    client.release();
  }
}

export interface Answer {
  status: number;
  headers: Headers;
  json: unknown;
}

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text === '' ? null : (JSON.parse(text) as unknown) };
}

/** A request with an API key (`key` null: no Authorization header). */
export async function withKey(base: string, method: string, pathAndQuery: string, key: string | null, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return answer(await fetch(base + pathAndQuery, body === undefined ? { method, headers } : { method, headers, body: JSON.stringify(body) }));
}

/**
 * A request signed by `agent` (docs/protocol.md §3): the signed path is `signedPath`
 * (default: the path and query exactly as sent), the body the JSON text sent.
 */
export async function signed(
  base: string,
  method: string,
  pathAndQuery: string,
  agent: TestAgent,
  opts: { body?: unknown; signedPath?: string; timestampMs?: number } = {},
): Promise<Answer> {
  const text = opts.body === undefined ? '' : JSON.stringify(opts.body);
  const bytes = new TextEncoder().encode(text);
  const sig = signAgentRequest(agent, bytes, {
    path: opts.signedPath ?? pathAndQuery,
    signer: 'node',
    ...(opts.timestampMs === undefined ? {} : { timestampMs: opts.timestampMs }),
  });
  const headers: Record<string, string> = { ...sig };
  if (text !== '') headers['content-type'] = 'application/json';
  return answer(await fetch(base + pathAndQuery, text === '' ? { method, headers } : { method, headers, body: text }));
}

/** An agent known to the receiver (its `agents` row), linked to `tenant` when given. */
export async function seedAgent(pool: pg.Pool, tenant: string | null, opts: { lastSeen?: Date; name?: string } = {}): Promise<TestAgent> {
  const agent = newAgent();
  const seen = opts.lastSeen ?? new Date();
  await pool.query(
    `INSERT INTO agents (pubkey, name, first_seen_at, last_seen_at, tenant_id, linked_at) VALUES ($1, $2, $3, $3, $4::varchar, CASE WHEN $4::varchar IS NULL THEN NULL ELSE now() END)`,
    [agent.agentId, opts.name ?? null, seen, tenant],
  );
  return agent;
}

export function errorCode(a: Answer): string | undefined {
  return (a.json as { error?: { code?: string } } | null)?.error?.code;
}

export function errorMessage(a: Answer): string {
  return (a.json as { error?: { message?: string } } | null)?.error?.message ?? '';
}
