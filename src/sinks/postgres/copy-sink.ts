import pg, { escapeLiteral } from 'pg';
import { classifyPgError, type FailureKind } from '../../database/index.js';
import { backoffDelayMs } from '../../retry/index.js';
import { COPY_COLUMNS, INTERACTION_KEY_COLUMNS } from '../../codec/index.js';
import { PENDING_TALLY_COPY, pendingTallyCopyRows, stagedPendingSql } from '../../rollups/index.js';
import { TABLES, type CopyBatch, type TableName } from './batch.js';
import { copyQuery, type CopyStep } from './copy-query.js';
import { setAsideRows } from './refused-rows.js';
import { requestParts } from './request-parts.js';
import { rowParts } from './row-parts.js';
import { refusesRow, splitRefused, type RefusedPart } from './split-refused.js';

/** Natural-key order of each table: inserting in this order keeps lock order the same in
 *  every transaction, so concurrent batches that share keys wait instead of deadlocking. */
const KEY_ORDER: Record<TableName, string> = {
  agent_interactions: 'agent_id, nonce, time',
  agent_telemetry: 'time, agent_id',
  gateway_telemetry: 'tenant_id, event_source, event_id',
};

/**
 * agent_interactions' natural key (agent_id, nonce) holds whatever the time: every stored row
 * has its key in agent_interaction_keys (schema/postgres/008_natural_keys.sql), written in the
 * same transaction, and that is the only uniqueness agent_interactions has (schema 014). The
 * direct path COPYs the workers' key rows there, where a repeated key raises unique_violation
 * like any duplicate; the careful path inserts the staged rows' keys with ON CONFLICT DO
 * NOTHING, keeps only the staged rows whose key it inserted, and then inserts one row per key
 * (a batch can hold the same event twice).
 */
const DIRECT_KEYS_COPY = `COPY agent_interaction_keys (${INTERACTION_KEY_COLUMNS.join(', ')}) FROM STDIN`;
const KEEP_NEW_INTERACTION_KEYS =
  'WITH k AS (INSERT INTO agent_interaction_keys (agent_id, nonce, time) SELECT agent_id, nonce, time FROM stage_agent_interactions ' +
  'ORDER BY agent_id, nonce, time ON CONFLICT DO NOTHING RETURNING agent_id, nonce, time) ' +
  'DELETE FROM stage_agent_interactions s WHERE NOT EXISTS (SELECT 1 FROM k WHERE k.agent_id = s.agent_id AND k.nonce = s.nonce AND k.time = s.time);\n';

/** A request PostgreSQL would not store: the batch was committed without it. */
export interface RefusedRequest {
  /** Index in CopyBatch.tasks, and in that task's `requests`. */
  task: number;
  position: number;
  /** The request's rows per table, left out of what was committed. */
  rows: Record<TableName, number>;
  error: Error;
}

/** Expected outcomes are values: the caller decides what a failure means for its requests. */
export type WriteOutcome =
  /**
   * `deduplicated`: the direct COPY met a duplicate key and the batch went through staging.
   * `refused`: requests with a row PostgreSQL refuses (a data exception or a constraint,
   * SQLSTATE class 22 or 23), left out of what was committed; everything else was committed.
   * `setAside`: rows of a batch without requests (a replayed spool batch) that PostgreSQL
   * refuses, kept in refused_rows instead; everything else was committed.
   */
  | { ok: true; durationMs: number; deduplicated: boolean; refused: RefusedRequest[]; setAside: number }
  | { ok: false; kind: FailureKind; error: Error };

const MAX_ATTEMPTS = 4;
/** A deadlock or serialization failure is retried after 5–10, 10–20, 20–40 ms. */
const DEADLOCK_RETRY = { initialDelayMs: 10, maxDelayMs: 1000 };
/** After a batch met a duplicate, this many batches go straight to staging (retry storms). */
const STAGING_AFTER_CONFLICT = 8;

/**
 * Writes batches in one transaction each, storing every natural key once.
 *
 * Duplicates are rare (a producer's retry), so a batch is first COPYed straight into the
 * real tables, the fastest path PostgreSQL has, with the interactions' (agent_id, nonce) keys
 * COPYed into agent_interaction_keys beside them; the keys refuse any duplicate, and then
 * every row was inserted and the workers' groups are exact. If PostgreSQL reports a unique
 * violation, the transaction is rolled back and the batch goes the careful way: COPY into
 * per-connection TEMP staging tables, then INSERT … ON CONFLICT DO NOTHING (interactions: only
 * the rows whose key was new), which tallies only what it inserted. Either way the tallies go to rollup_pending in the same transaction
 * as the rows (src/rollups/README.md), so what a commit stored is counted once.
 *
 * A row PostgreSQL will not store at all fails only its own request: see `write`.
 */
export class PostgresCopySink {
  private readonly insertSql: Record<TableName, string>;
  /** `COPY … FROM STDIN` without its format option (copyIn adds it). */
  private readonly copySql: Record<TableName, string>;
  private readonly directCopySql: Record<TableName, string>;
  private stagingBatchesLeft = 0;
  /** Connections that already have their staging tables. */
  private readonly prepared = new WeakSet<pg.PoolClient>();

  /**
   * `tallyPending`: every transaction also writes what it inserted into rollup_pending (the
   * workers' groups on the direct path, SQL over the staged INSERT's RETURNING otherwise),
   * so the rollups count exactly the rows that committed.
   */
  constructor(
    private readonly pool: pg.Pool,
    private readonly tallyPending = true,
  ) {
    const insert = {} as Record<TableName, string>;
    const copy = {} as Record<TableName, string>;
    const direct = {} as Record<TableName, string>;
    for (const t of TABLES) {
      const cols = COPY_COLUMNS[t].join(', ');
      copy[t] = `COPY stage_${t} (${cols}) FROM STDIN`;
      direct[t] = `COPY ${t} (${cols}) FROM STDIN`;
      const plain =
        t === 'agent_interactions'
          ? `INSERT INTO ${t} (${cols}) SELECT DISTINCT ON (agent_id, nonce) ${cols} FROM stage_${t} ORDER BY ${KEY_ORDER[t]}`
          : `INSERT INTO ${t} (${cols}) SELECT ${cols} FROM stage_${t} ORDER BY ${KEY_ORDER[t]} ON CONFLICT DO NOTHING`;
      insert[t] = tallyPending && t !== 'agent_telemetry' ? `${stagedPendingSql(t, plain)};` : `${plain};`;
    }
    insert.agent_interactions = KEEP_NEW_INTERACTION_KEYS + insert.agent_interactions;
    this.insertSql = insert;
    this.copySql = copy;
    this.directCopySql = direct;
  }

  /** SQL run once on every connection, before its first batch. UTC makes minute and month
   *  boundaries the same whatever the server's time zone. */
  private static readonly STAGING_SQL =
    "SET TIME ZONE 'UTC';\n" +
    TABLES.map((t) => `CREATE TEMP TABLE IF NOT EXISTS stage_${t} (LIKE ${t} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;`).join('\n');

  /**
   * Writes the batch. When PostgreSQL refuses a row (a value or a constraint, not a duplicate),
   * the batch is split in halves by request, recursively, each half its own transaction: the
   * requests that are fine are committed, and only those down to whose own rows the refusal
   * follows come back `refused`, so one bad request never fails the others in its batch. A
   * batch that does not know its requests (a replayed spool batch, acknowledged already) is
   * split by row instead, and its refused rows are set aside in refused_rows.
   */
  async write(batch: CopyBatch): Promise<WriteOutcome> {
    const started = performance.now();
    const outcome = await this.writeBatch(batch);
    if (outcome.ok || !refusesRow(outcome.error)) return outcome;
    const byRequest = batch.tasks.length > 0;
    const parts = byRequest ? requestParts(batch) : rowParts(batch);
    if (parts.length === 0) return outcome;
    const refused: RefusedPart[] = [];
    const failure = await splitRefused(batch, parts, outcome.error, (sub) => this.writeBatch(sub), refused);
    if (failure !== null) return failure;
    if (!byRequest) {
      try {
        await this.onConnection((client) => setAsideRows(client, batch, refused));
      } catch (err) {
        const kind = classifyPgError(err);
        return { ok: false, kind: kind === 'retry' ? 'unavailable' : kind, error: err as Error };
      }
    }
    const requests = byRequest ? refused.map(({ part: p, error }) => ({ task: p.task, position: p.position, rows: p.rows, error })) : NONE_REFUSED;
    return { ok: true, durationMs: performance.now() - started, deduplicated: true, refused: requests, setAside: byRequest ? 0 : refused.length };
  }

  private async writeBatch(batch: CopyBatch): Promise<WriteOutcome> {
    let redone = false;
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      try {
        await this.writeOnce(batch);
        return { ok: true, durationMs: performance.now() - started, deduplicated: redone, refused: NONE_REFUSED, setAside: 0 };
      } catch (err) {
        if ((err as { code?: unknown }).code === '23505' && !redone) {
          // A duplicate on the direct path: redo this batch through staging, at once.
          redone = true;
          this.stagingBatchesLeft = STAGING_AFTER_CONFLICT;
          attempt--;
          continue;
        }
        const kind = classifyPgError(err);
        if (kind !== 'retry') return { ok: false, kind, error: err as Error };
        if (attempt >= MAX_ATTEMPTS) return { ok: false, kind: 'unavailable', error: err as Error };
        await sleep(backoffDelayMs(attempt - 1, DEADLOCK_RETRY));
      }
    }
  }

  private async writeOnce(batch: CopyBatch): Promise<void> {
    // Interaction rows go direct only with their key rows (a spooled batch has none).
    let direct = batch.groups !== null && batch.interactionKeys.length === batch.chunks.agent_interactions.length;
    if (this.stagingBatchesLeft > 0) {
      this.stagingBatchesLeft--;
      direct = false;
    }
    return direct ? this.writeDirect(batch) : this.writeStaged(batch);
  }

  /**
   * The whole transaction is one query, one round trip: the keys, the rows and the tallies
   * (pendingTallyCopyRows) as COPYs, then the new agents' insert as literals and the COMMIT.
   * One statement alone is a transaction of its own and needs no BEGIN or COMMIT.
   */
  private async writeDirect(batch: CopyBatch): Promise<void> {
    const tables = TABLES.filter((t) => batch.rows[t] > 0);
    const groups = this.tallyPending ? (batch.groups ?? []) : [];
    const steps: CopyStep[] = tables.map((t) => ({ sql: this.directCopySql[t], chunks: batch.chunks[t], format: batch.formats[t] }));
    // Keys first: a repeated key is found before the bigger COPY of the rows.
    if (batch.rows.agent_interactions > 0) steps.unshift({ sql: DIRECT_KEYS_COPY, chunks: batch.interactionKeys, format: 'binary' });
    // A tally that does not add up throws here, before anything is sent.
    if (groups.length > 0) steps.push({ sql: PENDING_TALLY_COPY, chunks: [pendingTallyCopyRows(groups)], format: 'text' });
    const agents = registerAgentsSql(batch.newAgents);
    if (steps.length === 1 && agents === '') return this.onConnection((client) => copyQuery(client, steps));
    return this.inTransaction((client) => copyQuery(client, steps, 'BEGIN;\n', `${agents}COMMIT;`));
  }

  private async writeStaged(batch: CopyBatch): Promise<void> {
    return this.inTransaction(async (client) => {
      const steps: CopyStep[] = [];
      let finish = '';
      for (const t of TABLES) {
        if (batch.rows[t] === 0) continue;
        steps.push({ sql: this.copySql[t], chunks: batch.chunks[t], format: batch.formats[t] });
        finish += this.insertSql[t];
      }
      // The inserts (with their tallies), the new agents and the commit travel in the COPYs'
      // query: one round trip.
      return copyQuery(client, steps, 'BEGIN;\n', `${finish}${registerAgentsSql(batch.newAgents)}COMMIT;`);
    });
  }

  /** `work` (which begins and commits), or ROLLBACK: BEGIN rides in work's first query. */
  private inTransaction(work: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    return this.onConnection(async (client) => {
      try {
        return await work(client);
      } catch (err) {
        if (classifyPgError(err) !== 'unavailable') await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /** Runs `work` on a prepared connection; a broken connection is not reused. */
  private async onConnection<R>(work: (client: pg.PoolClient) => Promise<R>): Promise<R> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      if (!this.prepared.has(client)) {
        await client.query(PostgresCopySink.STAGING_SQL);
        this.prepared.add(client);
      }
      return await work(client);
    } catch (err) {
      broken = classifyPgError(err) === 'unavailable';
      throw err;
    } finally {
      client.release(broken);
    }
  }
}

const NONE_REFUSED: RefusedRequest[] = [];

/**
 * The new agents' registration as one statement of literals, run after the COPYs so that
 * their `agents` row locks are held only until the COMMIT that follows. Literals rather than
 * a parameter keep it in the batch's one simple query; new agents come only with an agent's
 * first batches, so the planning this costs is rare.
 */
function registerAgentsSql(agents: readonly string[]): string {
  if (agents.length === 0) return '';
  const values = agents.map((a) => escapeLiteral(a)).join(', ');
  return `INSERT INTO agents (pubkey, first_seen_at, last_seen_at) SELECT a, now(), now() FROM unnest(ARRAY[${values}]::text[]) AS a ON CONFLICT (pubkey) DO NOTHING;\n`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
