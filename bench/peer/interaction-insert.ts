import pg from 'pg';
import type { InteractionColumns } from './interaction-columns.js';

/**
 * One statement per request: every row of the request through `unnest` of one array per
 * column. Duplicates are skipped by the same natural key the receiver enforces, (agent_id,
 * nonce) whatever the time (docs/protocol.md §5): the keys go into agent_interaction_keys
 * with ON CONFLICT DO NOTHING, and only the rows whose key was new are inserted, once each.
 * A named statement, so each connection parses and plans it once.
 */
const INSERT_INTERACTIONS = {
  name: 'peer_insert_interactions',
  text: `WITH r AS (
  SELECT * FROM unnest($1::timestamptz[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::bigint[], $7::varchar[], $8::bigint[], $9::bool[], $10::int[], $11::varchar[], $12::text[], $13::varchar[])
    AS r (time, agent_id, vendor_id, request_url, request_method, amount_atomic, token_mint, nonce, success, latency_ms, error_type, error_message, signature)),
k AS (
  INSERT INTO agent_interaction_keys (agent_id, nonce, time) SELECT agent_id, nonce, time FROM r ORDER BY agent_id, nonce, time
  ON CONFLICT DO NOTHING RETURNING agent_id, nonce, time)
INSERT INTO agent_interactions (time, agent_id, vendor_id, request_url, request_method, amount_atomic, token_mint, nonce, success, latency_ms, error_type, error_message, signature)
SELECT DISTINCT ON (r.agent_id, r.nonce) r.* FROM r JOIN k ON k.agent_id = r.agent_id AND k.nonce = r.nonce AND k.time = r.time
ORDER BY r.agent_id, r.nonce`,
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
