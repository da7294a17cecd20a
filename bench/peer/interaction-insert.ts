import pg from 'pg';
import type { InteractionColumns } from './interaction-columns.js';

/**
 * One statement per request: every row of the request through `unnest` of one array per
 * column, duplicates skipped by the primary key. A named statement, so each connection
 * parses and plans it once.
 */
const INSERT_INTERACTIONS = {
  name: 'peer_insert_interactions',
  text: `INSERT INTO agent_interactions (time, agent_id, vendor_id, request_url, request_method, amount_atomic, token_mint, nonce, success, latency_ms, error_type, error_message, signature)
SELECT * FROM unnest($1::timestamptz[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::bigint[], $7::varchar[], $8::bigint[], $9::bool[], $10::int[], $11::varchar[], $12::text[], $13::varchar[])
ON CONFLICT DO NOTHING`,
};

const REGISTER_AGENT = {
  name: 'peer_register_agent',
  text: 'INSERT INTO agents (pubkey, first_seen_at, last_seen_at) VALUES ($1, now(), now()) ON CONFLICT (pubkey) DO NOTHING',
};

export class InteractionStore {
  private readonly pool: pg.Pool;
  /** Agents already registered by this process: the agents row is written once per agent, not per request. */
  private readonly registered = new Set<string>();

  constructor(databaseUrl: string, poolSize: number) {
    this.pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize, idleTimeoutMillis: 0 });
    this.pool.on('error', () => undefined);
  }

  async insert(agentId: string, cols: InteractionColumns): Promise<void> {
    if (!this.registered.has(agentId)) {
      await this.pool.query({ ...REGISTER_AGENT, values: [agentId] });
      this.registered.add(agentId);
    }
    await this.pool.query({ ...INSERT_INTERACTIONS, values: cols.values() });
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  end(): Promise<void> {
    return this.pool.end();
  }
}
